"""Replay throughput of the ``openai`` responder against the fake server (prints figures).

The fake server (tests/fake_openai.py) runs in its own process with 100 ms latency per answer;
the responder runs with concurrency 32, so the ceiling is 32 / 0.1 s = 320 answers/s. The target
is at least 90% of that on 2 cores. Measured through ``replay_to_file`` (prompt building,
redaction, HTTP, writing items.jsonl), with the cache off so every answer is a request.
Usage: .venv/bin/python benchmarks/replay_openai.py [ITEMS]   (default 3000)
Measured here: 0.930-0.932 of the ceiling at 5,000 items (two batches of 512 in flight).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eval.config import OpenAIResponder, ReplayConfig
from eval.records import Ticket, Turn
from eval.replay.stage import replay_to_file

ROOT = Path(__file__).parents[1]
LATENCY_S = 0.1
CONCURRENCY = 32
CEILING = CONCURRENCY / LATENCY_S


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, proc: subprocess.Popen, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("fake server exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("fake server did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (Linux /proc), to show which side the cores went to."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def write_tickets(path: Path, n: int) -> None:
    """One agent turn per ticket, with personal data to redact, like a real chat."""
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            ticket = Ticket(ticket_id=f"B{i:07d}", category=f"cat_{i % 12}", turns=[
                Turn(role="customer", text=f"Hi, order A-{i} has not arrived. Reach me at user{i}@example.com "
                     f"or +44 20 7946 {i % 10000:04d}. " + "It was supposed to arrive last week. " * 4),
                Turn(role="agent", text="Let me check that for you.", author="a1"),
            ])
            fh.write(ticket.to_json() + "\n")


def main(items: int) -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "fake_openai.py"), "--port", str(port), "--latency", str(LATENCY_S)],
    )
    try:
        wait_for(port, server)
        cfg = OpenAIResponder(kind="openai", base_url=f"http://127.0.0.1:{port}/v1", model="bench",
                              concurrency=CONCURRENCY, cache=False, timeout_s=10)
        with tempfile.TemporaryDirectory() as tmp:
            tickets = Path(tmp) / "tickets.jsonl"
            write_tickets(tickets, items)
            start, cpu, server_cpu = time.perf_counter(), time.process_time(), cpu_seconds(server.pid)
            summary = replay_to_file(tickets, Path(tmp) / "items.jsonl", ReplayConfig(responder=cfg), Path)
            seconds = time.perf_counter() - start
            cpu, server_cpu = time.process_time() - cpu, cpu_seconds(server.pid) - server_cpu
    finally:
        server.terminate()
        server.wait(timeout=10)
    rate = summary.items / seconds
    print(f"answers: {summary.items}  errors: {summary.errors}  seconds: {seconds:.2f}  "
          f"in the responder (summed over overlapping batches): {summary.answer_seconds:.2f}")
    print(f"CPU per answer: replay {1000 * cpu / summary.items:.2f} ms, "
          f"fake server {1000 * server_cpu / summary.items:.2f} ms")
    print(f"throughput: {rate:.1f} answers/s  ceiling: {CEILING:.0f} answers/s  ratio: {rate / CEILING:.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000)
