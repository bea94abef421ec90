"""The pairwise judge: AI against human answer of an item, names masked, asked in both orders.

Position bias is the best documented flaw of LLM judges (Zheng et al., 2023, MT-Bench): the same
pair shown the other way round often gets the other verdict. Each item is judged twice, AI first
and human first; only a verdict that survives the swap counts, anything else is a tie. The judge
sees what reviewers see (``eval.blinding.present``): personal data redacted, names, signatures
and other source tells stripped from both answers alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from eval.blinding import Presented, item_agent_texts, learn_agent_names, present
from eval.judges.rubric import transcript
from eval.judges.runner import JudgeRunner
from eval.judges.verdict import PairVerdict, parse_pair
from eval.records import Item
from eval.llm.client import ChatResult, Messages
from eval.store import atomic_writer, read_jsonl

Pick = Literal["ai", "human", "tie"]
CHUNK = 256

SYSTEM = (
    "You are an impartial quality reviewer comparing two candidate replies of a customer support agent. "
    "Judge which reply better serves the customer and the company: correct, complete, policy-safe, clear "
    "and kind. Ignore length and style unless they matter to the customer. Do not favour a reply for its "
    "position. Reply with JSON only."
)


class PairwiseVerdict(BaseModel):
    """One item's pairwise verdict (``judge_pairwise.jsonl``); ``preference`` None means an error."""

    item_id: str
    category: str
    ai_first: Pick | None
    human_first: Pick | None
    preference: Pick | None
    flipped: bool
    reasons: list[str]
    error: str | None = None


def pair_messages(shown: Presented, first: Literal["ai", "human"]) -> Messages:
    a, b = (shown.ai, shown.human) if first == "ai" else (shown.human, shown.ai)
    user = (
        f"Conversation so far:\n{transcript(shown.context)}\n\n"
        f"Reply A:\n{a}\n\nReply B:\n{b}\n\n"
        'Which reply is better? Reply with JSON only, exactly: {"winner": "A" | "B" | "tie", '
        '"reason": "<one or two sentences>"}'
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def source_of(verdict: PairVerdict, first: Literal["ai", "human"]) -> Pick:
    if verdict.winner == "tie":
        return "tie"
    second: Literal["ai", "human"] = "human" if first == "ai" else "ai"
    return first if verdict.winner == "A" else second


def combine(ai_first: Pick, human_first: Pick) -> Pick:
    """The verdict when both orders agree; a tie when it depends on the order."""
    return ai_first if ai_first == human_first else "tie"


def _verdict(item: Item, results: tuple[ChatResult, ChatResult]) -> PairwiseVerdict:
    errors = [r.error or "judge returned no text" for r in results if r.error is not None or r.text is None]
    if errors:
        return PairwiseVerdict(item_id=item.item_id, category=item.category, ai_first=None, human_first=None,
                               preference=None, flipped=False, reasons=[], error="; ".join(errors))
    parsed = [parse_pair(r.text or "") for r in results]
    picks = source_of(parsed[0], "ai"), source_of(parsed[1], "human")
    return PairwiseVerdict(
        item_id=item.item_id, category=item.category, ai_first=picks[0], human_first=picks[1],
        preference=combine(*picks), flipped=picks[0] != picks[1], reasons=[p.reason for p in parsed],
    )


def judge_pairs(runner: JudgeRunner, items: Sequence[Item], names: frozenset[str]) -> list[PairwiseVerdict]:
    """One verdict per item, in order. Items without an AI answer are an error, not a loss."""
    judged = [item for item in items if item.ai.error is None and item.ai.text]
    conversations = []
    for item in judged:
        shown = present(item, names)
        conversations += [pair_messages(shown, "ai"), pair_messages(shown, "human")]
    results = runner.run(conversations, parse_pair)
    by_id = {item.item_id: _verdict(item, (results[2 * n], results[2 * n + 1])) for n, item in enumerate(judged)}
    return [by_id.get(item.item_id) or PairwiseVerdict(
        item_id=item.item_id, category=item.category, ai_first=None, human_first=None, preference=None,
        flipped=False, reasons=[], error=f"no AI answer: {item.ai.error or 'no text'}",
    ) for item in items]


def _chunks(items: Iterable[Item]) -> Iterable[list[Item]]:
    chunk: list[Item] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def pairwise_to_file(items_path: Path, out_path: Path, runner: JudgeRunner) -> dict[str, int]:
    """Judge every item of a run into ``judge_pairwise.jsonl``; counts for the manifest."""
    names = learn_agent_names(item_agent_texts(read_jsonl(items_path, Item)))
    counts = {"items": 0, "errors": 0, "flipped": 0, "ai": 0, "human": 0, "tie": 0}
    with atomic_writer(out_path) as fh:
        for chunk in _chunks(read_jsonl(items_path, Item)):
            for verdict in judge_pairs(runner, chunk, names):
                fh.write(verdict.model_dump_json() + "\n")
                counts["items"] += 1
                counts["errors"] += verdict.error is not None
                counts["flipped"] += verdict.flipped
                if verdict.preference is not None:
                    counts[verdict.preference] += 1
    return counts
