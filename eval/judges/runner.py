"""The judge's endpoint behind a synchronous call: a batch of conversations in, results out.

Same client as the ``openai`` responder (limits, retries, cache, redaction by the caller), one
event loop for the judge's lifetime so connections are reused across batches.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from eval.config import JudgeConfig
from eval.llm.client import ChatClient, ChatResult, Check, LoopThread, Messages


class JudgeRunner:
    def __init__(self, cfg: JudgeConfig, client: ChatClient) -> None:
        self.cfg = cfg
        self.client = client
        self._loop = LoopThread()

    @classmethod
    def from_config(
        cls, cfg: JudgeConfig, resolve: Callable[[str], Path] = Path, rng: np.random.Generator | None = None,
        **client_kwargs: Any,
    ) -> JudgeRunner:
        """``rng`` only jitters retry waits; JSON mode is requested when the config asks for it."""
        extra = {"response_format": {"type": "json_object"}} if cfg.json_mode else {}
        rng = rng if rng is not None else np.random.default_rng(cfg.seed or 0)
        return cls(cfg, ChatClient.for_endpoint(cfg, rng, resolve, extra_body=extra, **client_kwargs))

    def run(self, conversations: list[Messages], check: Check) -> list[ChatResult]:
        return self._loop.run(self.client.complete_all(conversations, check))

    @property
    def stats(self) -> dict[str, Any]:
        return self.client.stats.as_dict()

    def close(self) -> None:
        self._loop.close(self.client.aclose())
