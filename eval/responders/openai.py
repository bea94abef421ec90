"""The ``openai`` responder: any OpenAI-compatible chat-completions server answers the agent turn.

The prompt is the system prompt (plus optional knowledge snippets), then the context turns as
chat messages: customer turns as ``user``, agent turns as ``assistant``; system events and
internal notes as labelled ``user`` messages, because several local servers' chat templates
reject a ``system`` message after the first. Consecutive messages of one role are merged, as
strict templates require alternation. Personal data is redacted from every message unless the
config turns it off.

Items are byte-identical between a first run and a cached re-run: the cache returns the original
answer, usage and latency. What the run actually sent and spent is in ``stats`` (the manifest).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel

from eval.config import OpenAIResponder
from eval.records import AIAnswer, Ticket, Turn
from eval.redact import redact
from eval.replay.request import ReplayRequest
from eval.responders.base import BaseResponder
from eval.llm.client import ChatClient, ChatResult, LoopThread, Messages, cost_of, estimate_tokens

NAME = "openai"
Which = Literal["all", "first"]
OPENING = "(No customer message yet: write the agent's opening message.)"
_ROLES = {"customer": "user", "agent": "assistant"}
_LABELS = {"system": "[system event] ", "note": "[internal note, not seen by the customer] "}


def system_message(system_prompt: str, knowledge: str | None) -> str:
    if not knowledge or not knowledge.strip():
        return system_prompt
    return f"{system_prompt}\n\nKnowledge you may use:\n{knowledge.strip()}"


def build_messages(context: Sequence[Turn], system: str, redact_pii: bool = True) -> Messages:
    """The chat messages for one agent turn (see the module docstring for the mapping)."""
    messages: Messages = [{"role": "system", "content": system}]
    for turn in context:
        role = _ROLES.get(turn.role, "user")
        text = _LABELS.get(turn.role, "") + turn.text
        if messages[-1]["role"] == role and len(messages) > 1:
            messages[-1] = {"role": role, "content": messages[-1]["content"] + "\n\n" + text}
        else:
            messages.append({"role": role, "content": text})
    if len(messages) == 1:
        messages.append({"role": "user", "content": OPENING})
    if redact_pii:
        messages = [{"role": m["role"], "content": redact(m["content"])} for m in messages]
    return messages


def to_answer(result: ChatResult, model: str) -> AIAnswer:
    if result.error is not None:
        return AIAnswer(text=None, responder=NAME, model=model, error=result.error)
    return AIAnswer(text=result.text, responder=NAME, model=model, latency_ms=result.latency_ms, usage=result.usage)


class OpenAIChat(BaseResponder):
    """A responder over one endpoint; ``answer`` is synchronous, the calls inside it concurrent.

    One event loop (``LoopThread``) lives as long as the responder so connections are reused
    across batches and two batches can be answered at once; ``close`` ends it.
    """

    name = NAME
    held_out: frozenset[str] = frozenset()
    parallel_batches = 2
    """Replay hands over the next batch while this one's last requests are out (no idle tail)."""

    def __init__(self, cfg: OpenAIResponder, client: ChatClient, knowledge: str | None = None) -> None:
        self.cfg = cfg
        self.client = client
        self.system = system_message(cfg.system_prompt, knowledge)
        self._loop = LoopThread()

    @classmethod
    def from_config(
        cls, cfg: OpenAIResponder, resolve: Callable[[str], Path], rng: np.random.Generator | None = None,
        **client_kwargs: Any,
    ) -> OpenAIChat:
        """``rng`` only jitters retry waits (seeded from the config: answers never depend on it)."""
        knowledge = resolve(cfg.knowledge_path).read_text(encoding="utf-8") if cfg.knowledge_path else None
        rng = rng if rng is not None else np.random.default_rng(cfg.seed or 0)
        return cls(cfg, ChatClient.for_endpoint(cfg, rng, resolve, **client_kwargs), knowledge)

    def messages(self, request: ReplayRequest) -> Messages:
        return build_messages(request.context, self.system, self.cfg.redact)

    def answer(self, requests: Sequence[ReplayRequest]) -> list[AIAnswer]:
        results = self._loop.run(self._answer_all(requests))
        return [to_answer(r, self.cfg.model) for r in results]

    async def _answer_all(self, requests: Sequence[ReplayRequest]) -> list[ChatResult]:
        """Each prompt is built in its own task, so building the later ones (redaction is the
        costly part) overlaps with the first requests' wait for the server."""
        async def one(request: ReplayRequest) -> ChatResult:
            return await self.client.complete(self.messages(request))

        return list(await asyncio.gather(*(one(r) for r in requests)))

    @property
    def stats(self) -> dict[str, Any]:
        return self.client.stats.as_dict()

    def close(self) -> None:
        self._loop.close(self.client.aclose())


class DryRun(BaseModel):
    """What a replay would send and cost, estimated without sending anything."""

    requests: int
    cached: int
    to_send: int
    prompt_tokens: int
    completion_tokens_expected: int
    """The length of the historical human answers, as a proxy for the model's."""
    completion_tokens_max: int
    cost_expected: float
    cost_max: float


def dry_run(cfg: OpenAIResponder, tickets: Iterable[Ticket], which: Which, resolve: Callable[[str], Path]) -> DryRun:
    """Tokens and cost of replaying ``tickets`` with ``cfg``; cache hits cost nothing and are not counted.

    Tokens are estimated at about 4 characters each (``estimate_tokens``); the request count and
    the cache hits are exact.
    """
    from eval.replay.request import agent_turn_indices, replay_request

    responder = OpenAIChat.from_config(cfg, resolve)
    requests = cached = prompt = expected = 0
    try:
        for ticket in tickets:
            for i in agent_turn_indices(ticket, which):
                messages = responder.messages(replay_request(ticket, i))
                requests += 1
                cache = responder.client.cache
                if cache is not None and cache.contains(responder.client.key(messages)):
                    cached += 1
                    continue
                prompt += estimate_tokens(messages)
                expected += min(cfg.max_tokens, len(ticket.turns[i].text) // 4 + 1)
    finally:
        responder.close()
    to_send = requests - cached
    return DryRun(
        requests=requests, cached=cached, to_send=to_send, prompt_tokens=prompt,
        completion_tokens_expected=expected, completion_tokens_max=to_send * cfg.max_tokens,
        cost_expected=round(cost_of(cfg, prompt, expected), 6),
        cost_max=round(cost_of(cfg, prompt, to_send * cfg.max_tokens), 6),
    )
