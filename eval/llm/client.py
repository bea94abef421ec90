"""The chat-completions client shared by the ``openai`` responder and the judges.

Bounded concurrency, a per-request timeout, retries with exponential backoff and full jitter on
429 / 5xx / timeouts / connection errors / malformed bodies (honouring ``Retry-After``), request and token limits,
and the response cache. A call that still fails is a ``ChatResult`` with ``error`` set, never
an exception and never an empty answer. The retry loop is written here rather than taken from
tenacity because it must honour ``Retry-After`` and draw its jitter from the run's seeded
generator; it is a dozen lines. aiohttp rather than httpx: httpx's connection pool costs
several times more CPU per request at high concurrency, and on a small machine that CPU bounds
the answers per second (measure with benchmarks/replay_openai.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import numpy as np

from eval.config import ConfigError, Endpoint
from eval.llm.cache import CachedResponse, ResponseCache, cache_key, default_cache_path
from eval.llm.ratelimit import Clock, RateLimiter, Sleep
from eval.records import Usage

T = TypeVar("T")

Messages = list[dict[str, str]]
Check = Callable[[str], object]
RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
_SNIPPET = 200


def estimate_tokens(messages: Messages) -> int:
    """About 4 characters per token plus a few per message: model tokenizers are not available
    offline, and this is only used for limits and the dry-run estimate, never billed."""
    return sum(len(m["content"]) // 4 + 4 for m in messages) + 2


def cost_of(cfg: Endpoint, prompt_tokens: int, completion_tokens: int) -> float:
    return (prompt_tokens * cfg.price_prompt_per_1k + completion_tokens * cfg.price_completion_per_1k) / 1000


@dataclass(frozen=True)
class ChatResult:
    text: str | None
    usage: Usage | None = None
    latency_ms: float | None = None
    error: str | None = None
    cached: bool = False


@dataclass
class ClientStats:
    """What this process actually sent and spent (cache hits cost nothing); for the manifest."""

    calls: int = 0
    cache_hits: int = 0
    http_requests: int = 0
    retries: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls, "cache_hits": self.cache_hits, "http_requests": self.http_requests,
            "retries": self.retries, "errors": self.errors, "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens, "cost": round(self.cost, 6),
            "statuses": dict(sorted(self.statuses.items())),
        }


@dataclass(frozen=True)
class _Attempt:
    result: ChatResult | None = None
    error: str | None = None
    retryable: bool = False
    retry_after: float | None = None


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds, fractional accepted, or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def api_key(cfg: Endpoint) -> str | None:
    if cfg.api_key_env is None:
        return None
    key = os.environ.get(cfg.api_key_env)
    if not key:
        raise ConfigError(f"environment variable {cfg.api_key_env} (api_key_env) is not set")
    return key


class EmptyAnswer(ValueError):
    """The model answered with nothing: a real answer of the model, so retrying will not help."""


def _parse_body(raw: bytes) -> tuple[str, dict[str, Any] | None, str | None]:
    """(text, usage, finish_reason) from a chat-completions body; ValueError names what is wrong."""
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"body is not JSON ({exc})") from exc
    try:
        choice = body["choices"][0]
        text = choice["message"]["content"]
    except (KeyError, IndexError, TypeError) as exc:
        raise ValueError("body has no choices[0].message.content") from exc
    if not isinstance(text, str):
        raise ValueError(f"choices[0].message.content is {type(text).__name__}, not text")
    if not text.strip():
        raise EmptyAnswer(f"empty answer (finish_reason {choice.get('finish_reason')!r})")
    usage = body.get("usage")
    return text, usage if isinstance(usage, dict) else None, choice.get("finish_reason")


class ChatClient:
    """Use inside one event loop; ``complete_all`` keeps the order of its inputs."""

    def __init__(
        self, cfg: Endpoint, rng: np.random.Generator, *, cache: ResponseCache | None = None,
        clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        self.cfg = cfg
        self.rng = rng
        self.cache = cache
        self.clock = clock
        self.sleep = sleep
        self.extra_body = extra_body or {}
        self.stats = ClientStats()
        self.limiter = RateLimiter(cfg.requests_per_minute, cfg.tokens_per_minute, clock, sleep)
        self._key = api_key(cfg)
        self._http: aiohttp.ClientSession | None = None
        self._gate: asyncio.Semaphore | None = None

    @classmethod
    def for_endpoint(
        cls, cfg: Endpoint, rng: np.random.Generator, resolve: Callable[[str], Path] = Path, **kwargs: Any
    ) -> ChatClient:
        """A client with the endpoint's cache (none when ``cache: false``); ``resolve`` places a
        relative ``cache_path`` next to the config, like every other path in it."""
        cache = None
        if cfg.cache:
            cache = ResponseCache(default_cache_path() if cfg.cache_path is None else resolve(cfg.cache_path))
        return cls(cfg, rng, cache=cache, **kwargs)

    @property
    def url(self) -> str:
        url = self.cfg.base_url.rstrip("/") + "/chat/completions"
        return url + (f"?api-version={self.cfg.api_version}" if self.cfg.api_version else "")

    def key(self, messages: Messages) -> str:
        return cache_key(self.cfg.model, messages, {**self.cfg.params(), **self.extra_body})

    def _client(self) -> aiohttp.ClientSession:
        """Created on first use, inside the event loop that will run the requests."""
        if self._http is None:
            headers = {}
            if self._key is not None:
                name = "api-key" if self.cfg.api_key_header == "api-key" else "Authorization"
                headers[name] = self._key if name == "api-key" else f"Bearer {self._key}"
            self._http = aiohttp.ClientSession(
                headers=headers, timeout=aiohttp.ClientTimeout(total=self.cfg.timeout_s),
                connector=aiohttp.TCPConnector(limit=self.cfg.concurrency),
            )
            self._gate = asyncio.Semaphore(self.cfg.concurrency)
        return self._http

    async def complete_all(self, conversations: list[Messages], check: Check | None = None) -> list[ChatResult]:
        return list(await asyncio.gather(*(self.complete(m, check) for m in conversations)))

    async def complete(self, messages: Messages, check: Check | None = None) -> ChatResult:
        """``check(text)`` raising ValueError turns an answer into an error (a judge's malformed
        verdict), so it is neither returned as an answer nor cached."""
        self.stats.calls += 1
        key = self.key(messages)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                self.stats.cache_hits += 1
                return _checked(self._result(hit, cached=True), check)
        http = self._client()
        assert self._gate is not None
        async with self._gate:
            result = _checked(await self._with_retries(http, messages), check)
        if result.error is not None:
            self.stats.errors += 1
        elif self.cache is not None:
            assert result.usage is not None and result.latency_ms is not None and result.text is not None
            self.cache.put(key, self.cfg.model, CachedResponse(
                result.text, result.usage.prompt_tokens, result.usage.completion_tokens, result.latency_ms,
            ))
        return result

    def _result(self, response: CachedResponse, cached: bool) -> ChatResult:
        cost = cost_of(self.cfg, response.prompt_tokens, response.completion_tokens)
        usage = Usage(prompt_tokens=response.prompt_tokens, completion_tokens=response.completion_tokens,
                      cost=round(cost, 8))
        return ChatResult(response.text, usage, response.latency_ms, cached=cached)

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Full jitter on an exponential cap; never shorter than the server's ``Retry-After``."""
        cap = min(self.cfg.backoff_max_s, self.cfg.backoff_base_s * 2**attempt)
        wait = float(self.rng.uniform(0.0, cap))
        return wait if retry_after is None else max(wait, retry_after)

    async def _with_retries(self, http: aiohttp.ClientSession, messages: Messages) -> ChatResult:
        estimate = estimate_tokens(messages) + self.cfg.max_tokens
        body = {"model": self.cfg.model, "messages": messages, **self.cfg.params(), **self.extra_body}
        attempts = self.cfg.max_retries + 1
        for attempt in range(attempts):
            await self.limiter.acquire(estimate)
            outcome = await self._send(http, body, estimate)
            if outcome.result is not None:
                return outcome.result
            if not outcome.retryable or attempt == attempts - 1:
                tries = f" after {attempt + 1} attempts" if outcome.retryable else ""
                return ChatResult(None, error=f"{outcome.error}{tries}")
            self.stats.retries += 1
            await self.sleep(self.backoff(attempt, outcome.retry_after))
        raise AssertionError("unreachable: the last attempt always returns")

    async def _post(self, http: aiohttp.ClientSession, body: dict[str, Any]) -> tuple[int, str | None, bytes]:
        async with http.post(self.url, json=body) as response:
            return response.status, response.headers.get("Retry-After"), await response.read()

    async def _send(self, http: aiohttp.ClientSession, body: dict[str, Any], estimate: int) -> _Attempt:
        self.stats.http_requests += 1
        start = self.clock()
        try:
            status, retry_after, raw = await self._post(http, body)
        except TimeoutError:
            self.stats.statuses["timeout"] += 1
            return _Attempt(error=f"timeout after {self.cfg.timeout_s:g}s", retryable=True)
        except aiohttp.ClientError as exc:
            self.stats.statuses["connection"] += 1
            return _Attempt(error=f"connection error: {type(exc).__name__}: {exc}", retryable=True)
        latency_ms = round(1000 * (self.clock() - start), 3)
        self.stats.statuses[str(status)] += 1
        if status != 200:
            snippet = raw[:_SNIPPET].decode("utf-8", "replace").replace("\n", " ")
            return _Attempt(
                error=f"HTTP {status}: {snippet}", retryable=status in RETRY_STATUS,
                retry_after=retry_after_seconds(retry_after),
            )
        try:
            text, usage, finish = _parse_body(raw)
        except EmptyAnswer as exc:
            return _Attempt(error=str(exc))
        except ValueError as exc:
            return _Attempt(error=f"malformed response: {exc}", retryable=True)
        prompt = _count(usage, "prompt_tokens", estimate_tokens(body["messages"]))
        completion = _count(usage, "completion_tokens", len(text) // 4 + 1)
        self.limiter.settle(estimate, prompt + completion)
        self.stats.prompt_tokens += prompt
        self.stats.completion_tokens += completion
        self.stats.cost += cost_of(self.cfg, prompt, completion)
        return _Attempt(result=self._result(CachedResponse(text, prompt, completion, latency_ms, finish), False))

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self.cache is not None:
            self.cache.close()


def _checked(result: ChatResult, check: Check | None) -> ChatResult:
    if check is None or result.text is None:
        return result
    try:
        check(result.text)
    except ValueError as exc:
        return ChatResult(None, result.usage, result.latency_ms, error=f"malformed verdict: {exc}")
    return result


def _count(usage: dict[str, Any] | None, name: str, fallback: int) -> int:
    """The server's count, or our estimate when the server reports no usage (some local servers)."""
    value = None if usage is None else usage.get(name)
    return value if isinstance(value, int) and value >= 0 else fallback


class LoopThread:
    """One event loop on a daemon thread for the life of a model client.

    Connections are reused across batches, and ``run`` may be called from several threads at
    once (replay answers two batches at a time), all sharing the client's concurrency limit.
    """

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="model-client", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def close(self, last: Coroutine[Any, Any, Any]) -> None:
        """Run ``last`` (e.g. closing the HTTP session), then stop and close the loop."""
        try:
            self.run(last)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()
