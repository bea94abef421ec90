"""A small OpenAI chat-completions server for tests and benchmarks, with injectable faults.

Speaks ``POST /v1/chat/completions`` (the fields our client reads, in the real wire format),
records every request body as received, and can add latency or answer with a fault: 429 with
``Retry-After``, 500, a hang past the client's timeout, or a malformed body. Faults are either
queued (the next requests get exactly these) or drawn at a rate from a seeded generator.

Run alone (the benchmark does): ``python tests/fake_openai.py --port 8123 --latency 0.1``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from servers import running

Fault = Literal["429", "500", "timeout", "malformed", "no_choices"]
ALL_FAULTS: tuple[Fault, ...] = ("429", "500", "timeout", "malformed", "no_choices")


def default_reply(body: dict[str, Any]) -> str:
    """A stable answer that depends on the conversation, so cached and fresh answers can be compared."""
    digest = hashlib.sha256(json.dumps(body["messages"], sort_keys=True).encode()).hexdigest()[:8]
    return f"Thank you for your message, we are looking into it (ref {digest})."


@dataclass
class FakeState:
    latency_s: float = 0.0
    fault_rate: float = 0.0
    fault_kinds: tuple[Fault, ...] = ALL_FAULTS
    retry_after: str = "0"
    hang_s: float = 2.0
    seed: int = 0
    queue: list[Fault] = field(default_factory=list)
    reply: Callable[[dict[str, Any]], str] = default_reply
    bodies: list[str] = field(default_factory=list)
    faults_sent: list[Fault] = field(default_factory=list)
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def next_fault(self) -> Fault | None:
        if self.queue:
            return self.queue.pop(0)
        if self.fault_rate and self.rng.random() < self.fault_rate:
            return self.rng.choice(self.fault_kinds)
        return None

    def requests(self) -> list[dict[str, Any]]:
        return [json.loads(b) for b in self.bodies]


def completion(body: dict[str, Any], text: str) -> dict[str, Any]:
    prompt = sum(len(m.get("content", "")) for m in body.get("messages", [])) // 4 + 1
    return {
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": body.get("model"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": len(text) // 4 + 1,
                  "total_tokens": prompt + len(text) // 4 + 1},
    }


def make_app(state: FakeState) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        raw = (await request.body()).decode()
        state.bodies.append(raw)
        fault = state.next_fault()
        if fault is not None:
            state.faults_sent.append(fault)
        if state.latency_s:
            await asyncio.sleep(state.latency_s)
        if fault == "429":
            return JSONResponse({"error": {"message": "rate limited"}}, 429, {"Retry-After": state.retry_after})
        if fault == "500":
            return JSONResponse({"error": {"message": "internal error"}}, 500)
        if fault == "timeout":
            await asyncio.sleep(state.hang_s)
        if fault == "malformed":
            return Response('{"choices": [{"message": ', 200, media_type="application/json")
        if fault == "no_choices":
            return JSONResponse({"object": "chat.completion", "choices": []})
        body = json.loads(raw)
        return JSONResponse(completion(body, state.reply(body)))

    return app


@contextmanager
def serve(state: FakeState, port: int | None = None) -> Iterator[str]:
    """Run the app on 127.0.0.1 in a thread; yields its ``base_url`` (``.../v1``)."""
    with running(make_app(state), port) as bound:
        yield f"http://127.0.0.1:{bound}/v1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--fault-rate", type=float, default=0.0)
    args = parser.parse_args()
    state = FakeState(latency_s=args.latency, fault_rate=args.fault_rate)
    uvicorn.run(make_app(state), host="127.0.0.1", port=args.port, log_level="warning",
                access_log=False, backlog=4096)


if __name__ == "__main__":
    main()
