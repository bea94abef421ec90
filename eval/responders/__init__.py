"""Responders: the backends that answer an agent turn, all behind one protocol.

A responder sees only a ``ReplayRequest``: the turns before the agent turn. It never sees the
ticket, its metadata (which holds outcomes such as csat), the human answer or any later turn,
so the information cut-off is enforced by the type, not by each backend's good manners.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from eval.config import OpenAIResponder, PrecomputedResponder, RetrievalResponder
from eval.records import AIAnswer, Turn


@dataclass(frozen=True)
class ReplayRequest:
    item_id: str
    ticket_id: str
    turn_index: int
    context: tuple[Turn, ...]


class Responder(Protocol):
    """Answers requests in order, one ``AIAnswer`` per request.

    A failed call is ``AIAnswer(text=None, error=...)``, never an empty or invented answer.
    ``held_out`` names tickets the responder learned from; ``replay`` does not replay them.
    """

    name: str
    held_out: frozenset[str]

    def answer(self, requests: Sequence[ReplayRequest]) -> list[AIAnswer]: ...


def build_responder(
    cfg: RetrievalResponder | PrecomputedResponder | OpenAIResponder,
    tickets_path: Path,
    resolve: Callable[[str], Path],
) -> Responder:
    # Imported here: the backends import ReplayRequest from this package, and the
    # precomputed responder should not pay for importing scikit-learn.
    if isinstance(cfg, RetrievalResponder):
        from eval.responders.retrieval import Retrieval

        return Retrieval.from_file(tickets_path, cfg.history_fraction)
    if isinstance(cfg, PrecomputedResponder):
        from eval.responders.precomputed import Precomputed

        return Precomputed.from_files(resolve(cfg.path), tickets_path)
    if isinstance(cfg, OpenAIResponder):
        from eval.responders.openai import OpenAIChat

        return OpenAIChat.from_config(cfg, resolve)
    raise TypeError(f"unknown responder config: {type(cfg).__name__}")
