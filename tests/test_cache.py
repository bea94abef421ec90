"""The SQLite response cache: keys, persistence, errors never cached, bypass."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
from fake_openai import FakeState, serve

from eval.llm.cache import CachedResponse, ResponseCache, cache_key
from eval.config import OpenAIResponder, RunConfig, without_cache
from eval.llm.client import ChatClient

MESSAGES = [{"role": "system", "content": "S"}, {"role": "user", "content": "Where is my parcel?"}]


def test_key_depends_on_model_messages_and_parameters_only() -> None:
    base = cache_key("m", MESSAGES, {"temperature": 0.0, "max_tokens": 10})
    assert base == cache_key("m", [dict(m) for m in MESSAGES], {"max_tokens": 10, "temperature": 0.0})
    assert base != cache_key("m2", MESSAGES, {"temperature": 0.0, "max_tokens": 10})
    assert base != cache_key("m", MESSAGES[:1], {"temperature": 0.0, "max_tokens": 10})
    assert base != cache_key("m", MESSAGES, {"temperature": 0.7, "max_tokens": 10})


def test_entries_survive_reopening_with_their_original_latency_and_usage(tmp_path: Path) -> None:
    path = tmp_path / "c" / "cache.sqlite"
    cache = ResponseCache(path)
    entry = CachedResponse("Hello", 12, 3, 812.5, "stop")
    cache.put("k", "m", entry)
    cache.close()
    again = ResponseCache(path)
    assert again.get("k") == entry and again.get("other") is None and len(again) == 1
    again.close()


def client(url: str, tmp_path: Path, **kw) -> ChatClient:
    cfg = OpenAIResponder(kind="openai", base_url=url, model="fake", max_retries=0, timeout_s=2,
                          cache_path=str(tmp_path / "cache.sqlite"), **kw)
    return ChatClient.for_endpoint(cfg, np.random.default_rng(0))


async def _twice(c: ChatClient):
    first = await c.complete(MESSAGES)
    second = await c.complete(MESSAGES)
    await c.aclose()
    return first, second


def test_errors_are_never_cached_and_successes_are(tmp_path: Path) -> None:
    state = FakeState(queue=["500"])
    with serve(state) as url:
        failed, answered = asyncio.run(_twice(client(url, tmp_path)))
        cached, again = asyncio.run(_twice(client(url, tmp_path)))
    assert failed.error and failed.text is None
    assert answered.text and not answered.cached
    assert cached.cached and again.cached and cached.text == answered.text
    assert cached.latency_ms == answered.latency_ms and cached.usage == answered.usage
    assert len(state.bodies) == 2


def test_cache_false_sends_every_time_and_writes_nothing(tmp_path: Path) -> None:
    state = FakeState()
    with serve(state) as url:
        c = client(url, tmp_path, cache=False)
        first, second = asyncio.run(_twice(c))
    assert c.cache is None and not first.cached and not second.cached
    assert len(state.bodies) == 2 and not (tmp_path / "cache.sqlite").exists()


def test_without_cache_turns_off_the_responder_and_judge_caches_only() -> None:
    cfg = RunConfig.model_validate({
        "name": "x", "data": {"paths": ["t.jsonl"]}, "rubrics": {"path": "r"},
        "replay": {"responder": {"kind": "openai", "base_url": "http://h/v1", "model": "m"}},
        "judge": {"base_url": "http://h/v1", "model": "j"},
    })
    off = without_cache(cfg)
    assert cfg.replay.responder.cache and cfg.judge.cache
    assert not off.replay.responder.cache and not off.judge.cache
    assert off.replay.responder.model == "m" and off.name == "x"
    plain = RunConfig.model_validate({"name": "x", "data": {"paths": ["t.jsonl"]}, "rubrics": {"path": "r"}})
    assert without_cache(plain) == plain
