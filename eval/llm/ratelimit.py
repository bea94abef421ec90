"""Requests-per-minute and tokens-per-minute limits for one endpoint.

A reservation scheduler (GCRA without burst): every request books the next free slot of each
budget and waits until both are due, so calls are spread evenly instead of bursting at the top
of each minute. Token costs are booked from an estimate before the call and corrected with the
real usage afterwards. Written here because the limit must share the clock and sleep that tests
inject; the logic is a few lines.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass
class _Budget:
    per_second: float
    next_free: float = 0.0

    def book(self, now: float, amount: float) -> float:
        """The time at which ``amount`` may be spent, and book it."""
        start = max(now, self.next_free)
        self.next_free = start + amount / self.per_second
        return start


@dataclass
class RateLimiter:
    requests_per_minute: float | None
    tokens_per_minute: float | None
    clock: Clock
    sleep: Sleep = asyncio.sleep
    _requests: _Budget | None = field(init=False, default=None)
    _tokens: _Budget | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.requests_per_minute:
            self._requests = _Budget(self.requests_per_minute / 60.0)
        if self.tokens_per_minute:
            self._tokens = _Budget(self.tokens_per_minute / 60.0)

    async def acquire(self, estimated_tokens: int) -> None:
        now = self.clock()
        due = now
        if self._requests is not None:
            due = max(due, self._requests.book(now, 1.0))
        if self._tokens is not None:
            due = max(due, self._tokens.book(now, float(estimated_tokens)))
        if due > now:
            await self.sleep(due - now)

    def settle(self, estimated_tokens: int, actual_tokens: int) -> None:
        """Correct the token budget once the real usage is known (refund or charge the difference)."""
        if self._tokens is not None:
            self._tokens.next_free += (actual_tokens - estimated_tokens) / self._tokens.per_second
