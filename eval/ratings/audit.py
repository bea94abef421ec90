"""Audit packets: a random sample of live AI answers per automated category, as single-answer packets.

The live answers are the agent turns a bot wrote (``author_type: bot``) in live tickets, given as Ticket
records (tickets.jsonl); the turns before one are its conversation. Per category that decisions.json
automates, ``audit_sample_per_week`` of them (the policy's ``monitor_reviews_per_week`` where the plan
gives none) are drawn uniformly at random, all of them where fewer; answers in the audit key already are
never drawn again. Each drawn answer goes to one reviewer (least loaded, as ``packets.assign`` gives it)
and is written redacted, with the single-answer writer, to ``packets/audit/``. The audit key
(RUN/audit_key.jsonl) maps its review_id to the ticket, turn and category, so its review reads in
``monitor`` as a live review. An audit is not blind: the reviewer knows the answer is the AI's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel
from rich.table import Table

from eval.blinding import learn_agent_names, present
from eval.errors import MissingInput, UsageError
from eval.policy import Policy
from eval.ratings import labelstudio, single
from eval.ratings.facts import ticket_facts
from eval.ratings.packets import PacketSpec, _tokens, assign
from eval.ratings.shown import Assignment, ShownTurn
from eval.ratings.single import AuditKey, SingleRow
from eval.records import AIAnswer, Decisions, HumanAnswer, Item, Ticket, item_id
from eval.report.sources import read_decisions
from eval.run.folder import RunFolder
from eval.run.manifest import update_manifest
from eval.store import atomic_writer, read_jsonl, write_jsonl

STREAM = 17_017
"""Seeds the audit draws apart from the replay packets': default_rng([seed, STREAM, round])."""


class AuditCategory(BaseModel):
    category: str
    planned: int
    live: int
    """Live AI answers of the category not audited before."""
    drawn: int


class AuditSummary(BaseModel):
    round: int
    reviewers: list[str]
    per_reviewer: int
    live_answers: int
    drawn: int
    per_reviewer_counts: dict[str, int]
    categories: list[AuditCategory]
    not_automated: dict[str, int]
    """Live AI answers of categories not automated (none drawn), by tier (``unknown``: not in the decisions)."""
    files: list[str] = []


def live_items(path: Path) -> list[Item]:
    """Each bot-written agent turn of the live tickets as an item: its conversation before it, the answer as ``ai``."""
    path = Path(path)
    if not path.exists():
        raise MissingInput(f"{path}: live tickets not found", file=path)
    out: list[Item] = []
    seen: set[str] = set()
    for ticket in read_jsonl(path, Ticket):
        if ticket.ticket_id in seen:
            raise UsageError(f"{path}: ticket_id {ticket.ticket_id} appears twice", file=path, field="ticket_id")
        seen.add(ticket.ticket_id)
        for n, turn in enumerate(ticket.turns):
            if turn.role == "agent" and (turn.model_extra or {}).get("author_type") == "bot":
                out.append(Item(item_id=item_id(ticket.ticket_id, n), ticket_id=ticket.ticket_id, turn_index=n,
                                category=ticket.category, context=ticket.turns[:n], human=HumanAnswer(text=""),
                                ai=AIAnswer(text=turn.text, responder="live"), metadata=ticket.metadata))
    return out


def draw(items: list[Item], decisions: Decisions, policy: Policy, done: set[tuple[str, int]],
         rng: np.random.Generator) -> tuple[list[Item], list[AuditCategory], dict[str, int]]:
    """The planned number of answers per automated category, uniformly at random without replacement."""
    pool: dict[str, list[Item]] = {}
    for item in items:
        if (item.ticket_id, item.turn_index) not in done:
            pool.setdefault(item.category, []).append(item)
    tiers = {d.category: d.tier for d in decisions.categories}
    drawn: list[Item] = []
    plans: list[AuditCategory] = []
    for d in decisions.categories:
        if d.tier != "automate":
            continue
        mine = pool.get(d.category, [])
        planned = d.audit_sample_per_week or policy.monitor_reviews_per_week
        n = min(planned, len(mine))
        picks = sorted(int(i) for i in rng.choice(len(mine), size=n, replace=False)) if n else []
        drawn += [mine[i] for i in picks]
        plans.append(AuditCategory(category=d.category, planned=planned, live=len(mine), drawn=n))
    others: dict[str, int] = {}
    for category, mine in sorted(pool.items()):
        if tiers.get(category) != "automate":
            tier = tiers.get(category, "unknown")
            others[tier] = others.get(tier, 0) + len(mine)
    return drawn, plans, others


def audit_rows(assignments: list[Assignment], items: dict[str, Item], names: frozenset[str]) -> dict[str, list[SingleRow]]:
    """Each reviewer's rows: the redacted conversation before the answer, the ticket's facts, the answer."""
    rows: dict[str, list[SingleRow]] = {}
    for a in sorted(assignments, key=lambda a: (a.reviewer, a.position)):
        item = items[a.item_id]
        shown = present(item, names)
        rows.setdefault(a.reviewer, []).append(SingleRow(
            review_id=a.rating_id, reviewer=a.reviewer, position=a.position, category=item.category,
            context=[ShownTurn(role=role, text=text) for role, text in shown.context], answer=shown.ai,
            facts=ticket_facts(item.metadata)))
    return rows


def _assigned(drawn: list[Item], spec: PacketSpec, rng: np.random.Generator, taken: set[str]) -> list[Assignment]:
    capacity = spec.per_reviewer * len(spec.reviewers)
    if len(drawn) > capacity:
        raise UsageError(f"the audit plan draws {len(drawn)} live answers but {len(spec.reviewers)} reviewers x "
                         f"--per-reviewer {spec.per_reviewer} review {capacity}: add reviewers or raise --per-reviewer")
    sample = pd.DataFrame({"item_id": [i.item_id for i in drawn], "k": 1, "gold": False})
    return assign(sample, spec, rng, taken)


def _write(run: RunFolder, rows: dict[str, list[SingleRow]], keys: list[AuditKey]) -> list[Path]:
    """This round's packet files (earlier rounds' files replaced), the Label Studio config, the whole audit key."""
    folder = run.path("audit_packets")
    folder.mkdir(parents=True, exist_ok=True)
    for stale in (*folder.glob("*.jsonl"), *folder.glob("*.csv"), *folder.glob("*.labelstudio.json")):
        stale.unlink()
    files = [p for reviewer, mine in rows.items() for p in single.write_reviewer(folder, reviewer, mine)]
    with atomic_writer(folder / "labelstudio_config.xml") as fh:
        fh.write(labelstudio.SINGLE_CONFIG)
    write_jsonl(run.audit_key, keys, private=True)
    return [*files, run.audit_key]


def write_audit_packets(run_dir: Path, spec: PacketSpec, live_path: Path, policy: Policy, seed: int) -> AuditSummary:
    """Read RUN/decisions.json and the live tickets; write RUN/packets/audit/ and RUN/audit_key.jsonl."""
    run = RunFolder(Path(run_dir))
    if not run.decisions.exists():
        raise MissingInput(f"{run.decisions}: no decisions yet; run decide first", file=run.decisions)
    decisions = read_decisions(run.decisions)[0]
    prior = list(read_jsonl(run.audit_key, AuditKey)) if run.audit_key.exists() else []
    rnd = max(k.round for k in prior) + 1 if prior else 0
    rng = np.random.default_rng([seed, STREAM, rnd])
    items = live_items(live_path)
    drawn, plans, others = draw(items, decisions, policy, {(k.ticket_id, k.turn_index) for k in prior}, rng)
    assignments = _assigned(drawn, spec, rng, {k.review_id for k in prior})
    by_id = {i.item_id: i for i in drawn}
    names = learn_agent_names(t.text for i in items for t in i.context if t.role == "agent")
    rows = audit_rows(assignments, by_id, names)
    keys = sorted((AuditKey(review_id=a.rating_id, ticket_id=by_id[a.item_id].ticket_id,
                            turn_index=by_id[a.item_id].turn_index, category=by_id[a.item_id].category,
                            reviewer=a.reviewer, round=rnd) for a in assignments),
                  key=lambda k: (k.category, k.ticket_id, k.turn_index))
    files = _write(run, rows, [*prior, *keys])
    _tokens(run.tokens, spec.reviewers, keep_others=True)
    summary = AuditSummary(round=rnd, reviewers=list(spec.reviewers), per_reviewer=spec.per_reviewer,
                           live_answers=len(items), drawn=len(drawn),
                           per_reviewer_counts={r: len(rows.get(r, [])) for r in spec.reviewers},
                           categories=plans, not_automated=others, files=[str(p) for p in files])
    update_manifest(run.root, stages={"audit_packets": {"summary": summary.model_dump(mode="json", exclude={"files"})}})
    return summary


def audit_table(summary: AuditSummary) -> Table:
    """Per automated category: the audits planned a week, the live answers there were, those drawn."""
    table = Table(title=f"Audit packets, round {summary.round}")
    for col in ("category", "planned", "live answers", "drawn"):
        table.add_column(col, justify="left" if col == "category" else "right")
    for c in summary.categories:
        table.add_row(c.category, str(c.planned), str(c.live), str(c.drawn))
    return table
