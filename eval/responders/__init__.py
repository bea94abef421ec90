"""Responders: the backends that answer an agent turn, all behind one protocol.

A responder sees only a ``ReplayRequest``: the turns before the agent turn. It never sees the
ticket, its metadata (which holds outcomes such as csat), the human answer or any later turn,
so the information cut-off is enforced by the type, not by each backend's good manners.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from eval.config import OpenAIResponder, PrecomputedResponder, RetrievalResponder
from eval.responders.base import BaseResponder, Responder

__all__ = ["BaseResponder", "Responder", "build_responder", "requests_per_call"]

PRECOMPUTED_BATCH = 256


def requests_per_call(cfg: RetrievalResponder | PrecomputedResponder | OpenAIResponder) -> int:
    """Requests replay sends in one call; the precomputed responder has no setting for it."""
    return cfg.batch_size if not isinstance(cfg, PrecomputedResponder) else PRECOMPUTED_BATCH


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

        return Precomputed.from_file(resolve(cfg.path))
    if isinstance(cfg, OpenAIResponder):
        from eval.responders.openai import OpenAIChat

        return OpenAIChat.from_config(cfg, resolve)
    raise TypeError(f"unknown responder config: {type(cfg).__name__}")
