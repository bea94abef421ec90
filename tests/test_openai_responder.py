"""The ``openai`` responder against a real HTTP server (tests/fake_openai.py) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import numpy as np
import pytest
from fake_openai import FakeState, serve

from eval.config import OpenAIResponder, ReplayConfig
from eval.records import Item, Ticket, Turn
from eval.llm.client import ChatClient, retry_after_seconds
from eval.llm.ratelimit import RateLimiter
from eval.redact import find_pii
from eval.replay.request import replay_request
from eval.replay.retry import retry_errors_to_file
from eval.replay.stage import replay_to_file
from eval.responders import build_responder
from eval.responders.openai import OPENING, OpenAIChat, build_messages
from eval.rubrics import score_to_file
from eval.store import read_jsonl

DATA = Path(__file__).parent / "data"
DEMO = Path(__file__).parents[1] / "datasets" / "demo" / "tickets.jsonl"
PLANTED = {"email": "jana.novak@example.org", "phone": "+44 20 7946 0958",
           "card": "4111 1111 1111 1111", "iban": "DE89 3704 0044 0532 0130 00"}


def fast(base_url: str, tmp_path: Path, **kw) -> OpenAIResponder:
    """Short timeouts and backoff caps so fault tests take seconds, not minutes."""
    defaults = dict(kind="openai", base_url=base_url, model="fake-1", concurrency=8, timeout_s=0.5,
                    max_retries=6, backoff_base_s=0.01, backoff_max_s=0.05,
                    cache_path=str(tmp_path / "cache.sqlite"), price_prompt_per_1k=0.5,
                    price_completion_per_1k=1.5)
    return OpenAIResponder(**{**defaults, **kw})


def pii_ticket() -> Ticket:
    return Ticket(ticket_id="P1", category="refund_request", turns=[
        Turn(role="customer", text=f"Refund please, mail me at {PLANTED['email']} or call {PLANTED['phone']}."),
        Turn(role="agent", text="Which card did you pay with?"),
        Turn(role="customer", text=f"Card {PLANTED['card']}, or send it to IBAN {PLANTED['iban']}."),
        Turn(role="agent", text="Done."),
    ])


def write_tickets(path: Path, tickets: list[Ticket]) -> Path:
    path.write_text("".join(t.to_json() + "\n" for t in tickets))
    return path


def demo_tickets(n: int) -> list[Ticket]:
    source = DEMO if DEMO.exists() else DATA / "tickets.jsonl"
    return list(read_jsonl(source, Ticket))[:n]


def run_replay(cfg: OpenAIResponder, tickets: Path, items: Path):
    return replay_to_file(tickets, items, ReplayConfig(responder=cfg), Path)


# --- prompt ----------------------------------------------------------------------------------

def test_context_turns_become_alternating_chat_messages() -> None:
    context = [Turn(role="customer", text="Hi"), Turn(role="customer", text="Order A-1 is late"),
               Turn(role="note", text="VIP customer"), Turn(role="agent", text="Checking."),
               Turn(role="system", text="Chat transferred")]
    messages = build_messages(context, "Be kind.")
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[1]["content"] == "Hi\n\nOrder A-1 is late\n\n[internal note, not seen by the customer] VIP customer"
    assert messages[3]["content"].startswith("[system event] Chat transferred")
    assert build_messages([], "Be kind.") == [{"role": "system", "content": "Be kind."},
                                               {"role": "user", "content": OPENING}]


def test_redaction_is_on_by_default_and_can_be_turned_off() -> None:
    context = pii_ticket().turns[:3]
    redacted = json.dumps(build_messages(context, "S"))
    plain = json.dumps(build_messages(context, "S", redact_pii=False))
    for value in PLANTED.values():
        assert value not in redacted
        assert value in plain
    assert "[EMAIL]" in redacted and "[IBAN]" in redacted


# --- limits and retries (pure) ---------------------------------------------------------------

def test_rate_limiter_spaces_requests_and_tokens_evenly() -> None:
    now = [0.0]
    waits: list[float] = []

    async def sleep(s: float) -> None:
        waits.append(s)
        now[0] += s

    async def go() -> None:
        limiter = RateLimiter(requests_per_minute=120, tokens_per_minute=None, clock=lambda: now[0], sleep=sleep)
        for _ in range(5):
            await limiter.acquire(10)
        tokens = RateLimiter(None, tokens_per_minute=600, clock=lambda: now[0], sleep=sleep)
        await tokens.acquire(100)
        tokens.settle(100, 50)
        await tokens.acquire(100)

    asyncio.run(go())
    assert waits[:4] == pytest.approx([0.5, 0.5, 0.5, 0.5])
    assert waits[4] == pytest.approx(5.0)  # 50 real tokens at 10 tokens/s


def test_retry_after_accepts_seconds_fractions_and_http_dates() -> None:
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("0.25") == 0.25
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == pytest.approx(10.0)
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_backoff_is_jittered_under_an_exponential_cap_and_honours_retry_after(tmp_path: Path) -> None:
    cfg = fast("http://127.0.0.1:9/v1", tmp_path, backoff_base_s=1.0, backoff_max_s=4.0)
    client = ChatClient(cfg, np.random.default_rng(0))
    waits = np.array([[client.backoff(a, None) for _ in range(400)] for a in range(5)])
    assert (waits >= 0).all()
    assert waits.max(axis=1) == pytest.approx([1, 2, 4, 4, 4], rel=0.05)
    assert waits.mean(axis=1) == pytest.approx([0.5, 1, 2, 2, 2], rel=0.15)
    assert min(client.backoff(0, 7.0) for _ in range(50)) == 7.0


# --- against the server ----------------------------------------------------------------------

def test_answers_carry_usage_and_cost_and_a_second_run_only_hits_the_cache(tmp_path: Path) -> None:
    state = FakeState()
    tickets = write_tickets(tmp_path / "tickets.jsonl", demo_tickets(12))
    with serve(state) as url:
        cfg = fast(url, tmp_path)
        first = run_replay(cfg, tickets, tmp_path / "a.jsonl")
        sent = len(state.bodies)
        second = run_replay(cfg, tickets, tmp_path / "b.jsonl")
    assert sent == first.items > 0 and len(state.bodies) == sent
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert first.responder_stats["http_requests"] == sent and second.responder_stats["http_requests"] == 0
    assert second.responder_stats["cache_hits"] == second.items
    items = list(read_jsonl(tmp_path / "a.jsonl", Item))
    assert all(i.ai.text and i.ai.usage and i.ai.model == "fake-1" for i in items)
    usage = items[0].ai.usage
    assert usage.cost == pytest.approx(usage.prompt_tokens * 0.5e-3 + usage.completion_tokens * 1.5e-3)
    assert first.usage["cost"] == pytest.approx(sum(i.ai.usage.cost for i in items))
    body = state.requests()[0]
    assert body["model"] == "fake-1" and body["temperature"] == 0.0 and body["max_tokens"] == 400
    assert body["messages"][0]["role"] == "system"


def test_twenty_percent_faults_end_as_answers_or_errors_never_as_bad_scores(tmp_path: Path) -> None:
    state = FakeState(fault_rate=0.2, retry_after="0.01", hang_s=1.0, seed=3)
    tickets = write_tickets(tmp_path / "tickets.jsonl", demo_tickets(40))
    with serve(state) as url:
        cfg = fast(url, tmp_path, timeout_s=0.3, max_retries=2, concurrency=16)
        summary = run_replay(cfg, tickets, tmp_path / "items.jsonl")
        first_requests = len(state.bodies)
        items = list(read_jsonl(tmp_path / "items.jsonl", Item))
        failed = [i for i in items if i.ai.error]
        again = run_replay(cfg, tickets, tmp_path / "again.jsonl")
    assert {"429", "500", "timeout", "malformed", "no_choices"} <= set(state.faults_sent)
    assert first_requests > summary.items and summary.responder_stats["retries"] > 0
    for item in items:
        assert (item.ai.text is not None) != (item.ai.error is not None), item.item_id
    assert summary.errors == len(failed)
    for item in failed:
        assert item.ai.error.endswith("after 3 attempts") and item.ai.usage is None
    # errors are never cached: the second run re-sends exactly the failed items
    assert len(state.bodies) - first_requests >= len(failed)
    assert again.responder_stats["cache_hits"] == summary.items - len(failed)
    score_to_file(tmp_path / "items.jsonl", tmp_path / "scores.jsonl", DATA / "rubrics")
    scores = {(s["item_id"], s["side"]): s for s in map(json.loads, (tmp_path / "scores.jsonl").read_text().splitlines())}
    for item in failed:
        assert scores[(item.item_id, "ai")]["score"] is None and scores[(item.item_id, "ai")]["error"]


def test_a_call_that_keeps_failing_is_an_item_error_with_its_reason(tmp_path: Path) -> None:
    state = FakeState(queue=["500", "500", "500", "timeout", "timeout", "timeout"], hang_s=1.0)
    ticket = demo_tickets(1)[0]
    with serve(state) as url:
        cfg = fast(url, tmp_path, max_retries=2, timeout_s=0.2, concurrency=1)
        responder = OpenAIChat.from_config(cfg, Path)
        request = replay_request(ticket, [i for i, t in enumerate(ticket.turns) if t.role == "agent"][0])
        first, second = responder.answer([request]), responder.answer([request])
        third = responder.answer([request])
        responder.close()
    assert first[0].text is None and first[0].error.startswith("HTTP 500") and "after 3 attempts" in first[0].error
    assert second[0].error == "timeout after 0.2s after 3 attempts"
    assert third[0].text and third[0].error is None


def test_retry_after_is_honoured(tmp_path: Path) -> None:
    state = FakeState(queue=["429"], retry_after="0.3")
    waits: list[float] = []

    async def sleep(s: float) -> None:
        waits.append(s)

    with serve(state) as url:
        responder = OpenAIChat.from_config(fast(url, tmp_path, backoff_max_s=0.01), Path, sleep=sleep)
        answer = responder.answer([replay_request(pii_ticket(), 1)])
        responder.close()
    assert answer[0].text and waits and max(waits) >= 0.3
    assert len(state.bodies) == 2


def test_no_personal_data_reaches_the_server(tmp_path: Path) -> None:
    tickets = [pii_ticket(), *list(read_jsonl(DATA / "tickets.jsonl", Ticket)), *demo_tickets(150)]
    path = write_tickets(tmp_path / "tickets.jsonl", tickets)
    known = {s.text for t in tickets for turn in t.turns for s in find_pii(turn.text)} | set(PLANTED.values())
    assert len(known) > 20
    state = FakeState()
    with serve(state) as url:
        run_replay(fast(url, tmp_path, concurrency=16), path, tmp_path / "items.jsonl")
    leaked = [v for v in known if any(v in body for body in state.bodies)]
    assert state.bodies and not leaked
    sent = "\n".join(m["content"] for body in state.requests() for m in body["messages"])
    # a check independent of eval.redact: anything shaped like an email or an international phone
    assert not re.findall(r"[\w.+-]+@[\w-]+\.\w+", sent)
    assert not re.findall(r"\+\d{1,3} ?\(?\d{2,4}\)?[ -]?\d{3}[ -]?\d{3,4}", sent)
    plain = FakeState()
    with serve(plain) as url:
        run_replay(fast(url, tmp_path, redact=False, cache=False), path, tmp_path / "plain.jsonl")
    assert all(any(v in body for body in plain.bodies) for v in PLANTED.values())
    plain_sent = "\n".join(m["content"] for body in plain.requests() for m in body["messages"])
    assert len(re.findall(r"\+\d{1,3} ?\(?\d{2,4}\)?[ -]?\d{3}[ -]?\d{3,4}", plain_sent)) > 10


def test_retry_errors_reanswers_only_failed_items_and_keeps_the_others_byte_identical(tmp_path: Path) -> None:
    tickets = write_tickets(tmp_path / "tickets.jsonl", demo_tickets(10))
    state = FakeState(queue=["500", "500", "500"])
    items_path = tmp_path / "items.jsonl"
    with serve(state) as url:
        cfg = fast(url, tmp_path, max_retries=0, concurrency=1)
        run_replay(cfg, tickets, items_path)
        before = items_path.read_text().splitlines()
        failed = [n for n, line in enumerate(before) if json.loads(line)["ai"]["error"]]
        sent = len(state.bodies)
        summary = retry_errors_to_file(items_path, ReplayConfig(responder=cfg), Path, tickets)
    after = items_path.read_text().splitlines()
    assert len(failed) == 3 and summary.retried == 3 and summary.errors == 0
    assert len(state.bodies) - sent == 3
    assert len(after) == len(before)
    for n, (old, new) in enumerate(zip(before, after, strict=True)):
        assert (old == new) == (n not in failed)
        assert json.loads(new)["ai"]["text"]


def test_factory_builds_the_openai_responder_with_a_config_relative_cache(tmp_path: Path) -> None:
    cfg = OpenAIResponder(kind="openai", base_url="http://127.0.0.1:9/v1", model="m", cache_path="c.sqlite")
    responder = build_responder(cfg, tmp_path / "tickets.jsonl", lambda p: tmp_path / p)
    assert isinstance(responder, OpenAIChat) and responder.client.cache.path == tmp_path / "c.sqlite"
    responder.close()


def test_missing_api_key_variable_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from eval.config import ConfigError

    monkeypatch.delenv("FAKE_KEY_FOR_TEST", raising=False)
    cfg = fast("http://127.0.0.1:9/v1", tmp_path, api_key_env="FAKE_KEY_FOR_TEST")
    with pytest.raises(ConfigError, match="FAKE_KEY_FOR_TEST"):
        OpenAIChat.from_config(cfg, Path)


# --- the command line ------------------------------------------------------------------------

def cli(*args: str):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "eval", *args], capture_output=True, text=True, timeout=120)


def test_cli_dry_run_retry_errors_and_no_cache(tmp_path: Path) -> None:
    tickets = write_tickets(tmp_path / "tickets.jsonl", demo_tickets(6))
    state = FakeState()
    with serve(state) as url:
        config = tmp_path / "run.yaml"
        config.write_text(
            f"name: t\ndata: {{paths: [{tickets}]}}\nrubrics: {{path: {DATA / 'rubrics'}}}\n"
            f"replay: {{responder: {{kind: openai, base_url: '{url}', model: fake-1, max_retries: 0, "
            f"cache_path: cache.sqlite, price_prompt_per_1k: 1.0, price_completion_per_1k: 2.0}}}}\n"
        )
        estimate = cli("run", str(config), "--dry-run")
        assert estimate.returncode == 0, estimate.stderr
        planned = json.loads(estimate.stdout)
        assert planned["requests"] == planned["to_send"] > 0 and planned["cost_max"] > planned["cost_expected"] > 0
        assert not state.bodies
        state.queue.extend(["500", "500"])
        res = cli("run", str(config), "--out", str(tmp_path / "run"))
        assert res.returncode == 0, res.stderr
        manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
        replay = manifest["stages"]["replay"]["summary"]
        assert replay["errors"] == 2 and manifest["counts"]["ai_errors"] == 2
        assert replay["usage"]["cost"] > 0 and replay["responder_stats"]["http_requests"] == planned["requests"]
        sent = len(state.bodies)
        retried = cli("replay", str(tmp_path / "run"), "--retry-errors")
        assert retried.returncode == 0, retried.stderr
        assert len(state.bodies) == sent + 2
        assert not [i for i in read_jsonl(tmp_path / "run" / "items.jsonl", Item) if i.ai.error]
        assert json.loads(cli("run", str(config), "--dry-run").stdout)["to_send"] == 0
        assert cli("replay", str(tmp_path / "run"), "--no-cache").returncode == 0
        assert len(state.bodies) == sent + 2 + planned["requests"]


def test_two_batches_are_in_flight_at_once_and_items_keep_ticket_order(tmp_path: Path) -> None:
    """The next batch's requests go out while this one's are still answered; items stay in order."""
    replied: list[int] = []
    in_flight: list[int] = []

    def reply(body: dict) -> str:
        in_flight.append(len(state.bodies) - len(replied))  # sent, not yet answered (this one included)
        replied.append(1)
        return "Thanks, " + body["messages"][-1]["content"][:20]

    state = FakeState(latency_s=0.05, reply=reply)
    tickets = write_tickets(tmp_path / "tickets.jsonl", demo_tickets(12))
    with serve(state) as url:
        run_replay(fast(url, tmp_path, batch_size=1, cache=False, timeout_s=5), tickets, tmp_path / "two.jsonl")
        overlapped, in_flight[:] = max(in_flight), []
        OpenAIChat.parallel_batches = 1
        try:
            run_replay(fast(url, tmp_path, batch_size=1, cache=False, timeout_s=5), tickets, tmp_path / "one.jsonl")
        finally:
            OpenAIChat.parallel_batches = 2
    one_ticket = max(len([t for t in ticket.turns if t.role == "agent"]) for ticket in demo_tickets(12))
    assert max(in_flight) <= one_ticket < overlapped  # a batch is one ticket's turns (batch_size=1)
    two, one = (list(read_jsonl(tmp_path / f"{n}.jsonl", Item)) for n in ("two", "one"))
    assert [(i.item_id, i.ai.text) for i in two] == [(i.item_id, i.ai.text) for i in one]  # latency aside
    ids = [i.item_id for i in two]
    assert ids == sorted(ids, key=lambda x: (x.split("#")[0], int(x.split("#")[1])))
