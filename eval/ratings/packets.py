"""Blind packets: by whom each sampled item gets rated, in which X/Y order, and what reviewers see.

Which items are drawn (targets per category, gold and calibration items, a sample that fills the
reviewers' capacity exactly) is ``eval.ratings.sampling``; items rated in earlier rounds are
never drawn again. Nothing in a packet marks gold items. X/Y order is drawn per (reviewer,
item), each (reviewer, item) gets its own random ``rating_id``, and each reviewer's queue is
shuffled. ``--kind single`` draws the same way and shows one answer per row (``eval.ratings.single``).
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel
from rich.table import Table

from eval.blinding import BlindingAudit, audit_blinding, item_agent_texts, learn_agent_names, present
from eval.decide import read_scores
from eval.policy import Policy, load_policy
from eval.ratings import labelstudio
from eval.ratings.active import UNIFORM, active_design
from eval.ratings.facts import ticket_facts
from eval.ratings.guidelines import FILE_NAME as GUIDELINES_FILE
from eval.ratings.guidelines import Guidelines, load_guidelines
from eval.ratings.sampling import (  # noqa: F401  (re-exported: callers import them from here)
    GOLD_MIN_SCORE, CategoryPlan, PacketSpec, Sample, category_targets, gold_candidates, sample_items, settled,
    zero_failure_n,
)
from eval.ratings import single
from eval.ratings.shown import Assignment, PacketRow, ShownTurn, write_packet_files
from eval.ratings.single import ReviewKey
from eval.records import BlindKey, Item, Side, UnblindedRating, UnblindedReview
from eval.run.folder import RunFolder
from eval.run.manifest import config_of_run, load_manifest, update_manifest
from eval.store import atomic_writer, read_jsonl, write_json, write_jsonl

RATING_COLUMNS = ("score_x", "score_y", "preference", "acceptable_x", "acceptable_y",
                  "critical_x", "critical_y", "comment", "seconds")
PacketKind = Literal["paired", "single"]
"""paired: both answers side by side (X/Y); single: one answer per row (``eval.ratings.single``)."""
CSV_COLUMNS = ("rating_id", "reviewer", "position", "category", "facts", "context", "answer_x", "answer_y",
               *RATING_COLUMNS)


class PacketSummary(BaseModel):
    round: int
    reviewers: list[str]
    per_reviewer: int
    capacity: int
    items: int
    ratings: int
    per_reviewer_counts: dict[str, int]
    categories: list[CategoryPlan]
    ai_errors_skipped: int
    notes: list[str]
    audit: BlindingAudit | None = None
    files: list[str] = []


def _rating_id(rng: np.random.Generator, taken: set[str]) -> str:
    """Random hex, unrelated to the item, so a rating_id reveals nothing."""
    while True:
        rid = f"r{int(rng.integers(0, 2**40)):010x}"
        if rid not in taken:
            taken.add(rid)
            return rid


def assign(sample: pd.DataFrame, spec: PacketSpec, rng: np.random.Generator, taken_ids: set[str]) -> list[Assignment]:
    """Least-loaded reviewers per item (ties at random), items needing most reviewers first."""
    load = dict.fromkeys(spec.reviewers, 0)
    order = sample.assign(r=rng.random(len(sample))).sort_values(["k", "r"], ascending=[False, True])
    out: list[Assignment] = []
    for row in order.itertuples():
        free = [r for r in spec.reviewers if load[r] < spec.per_reviewer]
        if len(free) < row.k:
            raise RuntimeError(f"cannot give {row.item_id} {row.k} reviewers within --per-reviewer")
        ties = rng.random(len(free))
        chosen = [free[i] for i in sorted(range(len(free)), key=lambda i: (load[free[i]], ties[i]))[:row.k]]
        for reviewer in chosen:
            load[reviewer] += 1
            x: Side = "ai" if rng.random() < 0.5 else "human"
            out.append(Assignment(_rating_id(rng, taken_ids), row.item_id, reviewer, x, bool(row.gold)))
    positions: list[Assignment] = []
    for reviewer in spec.reviewers:
        mine = [a for a in out if a.reviewer == reviewer]
        for pos, i in enumerate(rng.permutation(len(mine)), start=1):
            a = mine[i]
            positions.append(Assignment(a.rating_id, a.item_id, a.reviewer, a.x, a.gold, pos))
    return positions


def packet_rows(
    assignments: list[Assignment], items: dict[str, Item], names: frozenset[str],
) -> tuple[dict[str, list[PacketRow]], list[tuple[str, str]], list[tuple[str, str]]]:
    """Rows per reviewer, plus (human, ai) text pairs per item before and after stripping, for the audit."""
    shown = {i: present(items[i], names) for i in sorted({a.item_id for a in assignments})}
    rows: dict[str, list[PacketRow]] = {}
    for a in sorted(assignments, key=lambda a: (a.reviewer, a.position)):
        p = shown[a.item_id]
        x, y = (p.ai, p.human) if a.x == "ai" else (p.human, p.ai)
        rows.setdefault(a.reviewer, []).append(PacketRow(
            rating_id=a.rating_id, reviewer=a.reviewer, position=a.position, category=items[a.item_id].category,
            context=[ShownTurn(role=role, text=text) for role, text in p.context], answer_x=x, answer_y=y,
            facts=ticket_facts(items[a.item_id].metadata),
        ))
    before = [(b.human, b.ai) for b in (present(items[i], names, strip=False) for i in shown)]
    after = [(p.human, p.ai) for p in shown.values()]
    return rows, before, after


def _scan_items(path: Path) -> tuple[pd.DataFrame, int, frozenset[str]]:
    """Index of items with an AI answer, count of AI errors, agent names learned from all items."""
    rows: list[tuple[str, str, str]] = []
    errors, agent_texts = 0, list[str]()
    for item in read_jsonl(path, Item):
        if item.ai.error or not item.ai.text:
            errors += 1
        else:
            rows.append((item.item_id, item.category, item.ticket_id))
        agent_texts.extend(item_agent_texts([item]))
    index = pd.DataFrame(rows, columns=["item_id", "category", "ticket_id"], dtype=object)
    return index, errors, learn_agent_names(agent_texts)


def _round_state(run_dir: Path, kind: PacketKind) -> tuple[int, list[BlindKey | ReviewKey], dict[str, Any] | None]:
    """(this round, key entries of earlier rounds, decisions) for a follow-up after ``decide``.

    Without decisions.json this is round 0 and the key is written afresh. With it, the round is
    one after the last round that has ratings (reviews for single packets), so re-running
    ``packets`` redraws the same round.
    """
    run = RunFolder(run_dir)
    decisions_path = run.decisions
    if not decisions_path.exists():
        return 0, [], None
    decisions = json.loads(decisions_path.read_text(encoding="utf-8"))
    prior: list[BlindKey | ReviewKey]
    if kind == "single":
        key_path, rated_path = run.review_key, run.reviews
        prior = list(read_jsonl(key_path, ReviewKey)) if key_path.exists() else []
        rated = {r.item_id for r in read_jsonl(rated_path, UnblindedReview)} if rated_path.exists() else set()
    else:
        key_path, rated_path = run.key, run.ratings
        prior = list(read_jsonl(key_path, BlindKey)) if key_path.exists() else []
        rated = {r.item_id for r in read_jsonl(rated_path, UnblindedRating)} if rated_path.exists() else set()
    rounds = {k.round for k in prior if k.item_id in rated}
    current = max(rounds) + 1 if rounds else 0
    return current, [k for k in prior if k.round < current], decisions


def _ai_critical_share(scores: pd.DataFrame) -> dict[str, float]:
    return {} if scores.empty else scores[scores["side"] == "ai"].groupby("category")["critical_fail"].mean().to_dict()


def _tokens(path: Path, reviewers: tuple[str, ...], keep_others: bool) -> dict[str, str]:
    """Keep existing links working; new reviewers get a token from the OS.

    Deliberately not from the seeded generator: the seed is in the config and manifest, and a
    token anyone can recompute would guard nothing.
    """
    tokens = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    if not keep_others:
        tokens = {r: t for r, t in tokens.items() if r in reviewers}
    for reviewer in reviewers:
        tokens.setdefault(reviewer, secrets.token_urlsafe(24))
    write_json(path, tokens, private=True)
    return tokens


def _write_reviewer(folder: Path, reviewer: str, rows: list[PacketRow]) -> list[Path]:
    return write_packet_files(folder, reviewer, rows, CSV_COLUMNS, labelstudio.tasks)


def packets_table(summary: PacketSummary) -> Table:
    """Per category: what was wanted, why, what was drawn, and the shortfall where items ran out."""
    table = Table(title=f"Packets, round {summary.round}")
    for col in ("category", "available", "wanted", "share", "sampled", "short", "gold", "calibration", "why"):
        table.add_column(col, justify="left" if col in ("category", "why") else "right")
    for c in summary.categories:
        short = f"{c.short} (only {c.available})" if c.short else ""
        table.add_row(c.category, str(c.available), str(c.wanted), str(c.share), str(c.sampled), short,
                      str(c.gold), str(c.calibration), c.why)
    return table


def policy_of_run(run_dir: Path) -> tuple[Policy, int]:
    """The decision policy and seed of the run's config (the default policy and seed 0 without one)."""
    if not load_manifest(run_dir).get("config_path"):
        return load_policy(None), 0
    cfg = config_of_run(run_dir)
    source = cfg.resolve(cfg.policy) if isinstance(cfg.policy, str) else cfg.policy
    return load_policy(source), cfg.seed


def guidelines_of_run(run_dir: Path) -> Guidelines:
    """The rating guidelines of the run's config (``ratings.guidelines``), else the shipped default."""
    if not load_manifest(run_dir).get("config_path"):
        return load_guidelines()
    cfg = config_of_run(run_dir)
    return load_guidelines(cfg.resolve(cfg.ratings.guidelines) if cfg.ratings.guidelines else None)


def _write_rows(run: RunFolder, kind: PacketKind, rows: dict[str, list[PacketRow]],
                assignments: list[Assignment], prior: list[BlindKey | ReviewKey], rnd: int,
                drawn: dict[str, tuple[str | None, float]]) -> list[Path]:
    """The reviewers' packet files, the Label Studio config and the key of the packet kind; ``drawn``: this
    round's items' stratum and inclusion probability (``eval.ratings.active.Design.probabilities``)."""
    folder = run.packets
    if kind == "single":
        files = [p for reviewer, mine in single.single_rows(rows).items() for p in single.write_reviewer(folder, reviewer, mine)]
        with atomic_writer(folder / "labelstudio_config.xml") as fh:
            fh.write(labelstudio.SINGLE_CONFIG)
        write_jsonl(run.review_key, [*prior, *single.review_keys(assignments, rnd)], private=True)
        return [*files, run.review_key]
    files = [p for reviewer, mine in rows.items() for p in _write_reviewer(folder, reviewer, mine)]
    with atomic_writer(folder / "labelstudio_config.xml") as fh:
        fh.write(labelstudio.labeling_config())
    key = [*prior, *sorted(
        (BlindKey(rating_id=a.rating_id, item_id=a.item_id, x=a.x, y="human" if a.x == "ai" else "ai",
                  gold=a.gold, reviewer=a.reviewer, round=rnd, stratum=drawn[a.item_id][0],
                  probability=drawn[a.item_id][1]) for a in assignments),
        key=lambda k: (k.item_id, k.reviewer or ""))]
    write_jsonl(run.key, key, private=True)
    return [*files, run.key]


def write_packets(run_dir: Path, spec: PacketSpec, policy: Policy, seed: int,
                  guidelines: Guidelines | None = None, kind: PacketKind = "paired") -> PacketSummary:
    """Read RUN/items.jsonl (+ scores, decisions); write RUN/packets/, the key, RUN/blinding_audit.json.

    ``guidelines`` (the shipped default when None) go into packets/ with the round they belong to.
    Paired packets' key is RUN/key.jsonl, single-answer packets' RUN/review_key.jsonl.
    """
    run_dir = Path(run_dir)
    run = RunFolder(run_dir)
    index, ai_errors, names = _scan_items(run.items)
    scores_path = run.scores
    scores = read_scores(scores_path) if scores_path.exists() else pd.DataFrame(
        columns=["item_id", "side", "score", "critical_fail"])
    scores = scores.merge(index, on="item_id", how="inner")
    rnd, prior, decisions = _round_state(run_dir, kind)
    rng = np.random.default_rng([seed, rnd])
    drawn = {k.item_id for k in prior}
    pool = index[~index["item_id"].isin(drawn)]
    targets = category_targets(pool["category"].value_counts().to_dict(), _ai_critical_share(scores), policy, decisions)
    moving = {c: n for c, (n, _) in targets.items() if c not in settled(decisions)}  # audits stay uniform
    design = (active_design(run, index, scores, drawn, moving)
              if rnd > 0 and kind == "paired" else UNIFORM)
    sample = sample_items(pool.assign(stratum=pool["item_id"].map(design.strata)), targets, gold_candidates(scores),
                          spec, rng, design.fractions)
    assignments = assign(sample.items, spec, rng, {k.rating_id if isinstance(k, BlindKey) else k.review_id for k in prior})
    if kind == "single":
        assignments = single.balance(assignments, rng)
    wanted = set(sample.items["item_id"])
    items = {i.item_id: i for i in read_jsonl(run.items, Item) if i.item_id in wanted}
    rows, before, after = packet_rows(assignments, items, names)
    audit = audit_blinding(before, after, rng)
    if rnd == 0:  # a fresh key: packets of an earlier draw are void
        for stale in (*run.packets.glob("*.jsonl"), *run.packets.glob("*.csv"), *run.packets.glob("*.labelstudio.json")):
            stale.unlink()
    files = _write_rows(run, kind, rows, assignments, prior, rnd,
                        design.probabilities(index, drawn | set(sample.items["item_id"])))
    write_json(run.packets / GUIDELINES_FILE, (guidelines or load_guidelines()).model_dump(mode="json"))
    _tokens(run.tokens, spec.reviewers, keep_others=rnd > 0)
    write_json(run.blinding_audit, audit.model_dump(mode="json"))
    summary = PacketSummary(
        round=rnd, reviewers=list(spec.reviewers), per_reviewer=spec.per_reviewer,
        capacity=spec.per_reviewer * len(spec.reviewers), items=len(sample.items), ratings=len(assignments),
        per_reviewer_counts={r: len(rows.get(r, [])) for r in spec.reviewers}, categories=sample.plans,
        ai_errors_skipped=ai_errors, notes=sample.notes, audit=audit,
        files=[str(p) for p in files] + [str(run.blinding_audit)],
    )
    update_manifest(run_dir, stages={"packets": {"summary": summary.model_dump(mode="json", exclude={"files"})}})
    return summary
