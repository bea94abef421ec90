"""A disk cache (SQLite) of model responses, keyed by model, messages and parameters.

Only successful responses are stored: an error is never cached, so a re-run retries it. The
stored entry keeps the original latency and token usage, so a cached re-run writes the same
items byte for byte. SQLite (stdlib) rather than a cache library: it is one file, safe for
several processes (WAL) and needs no extra dependency.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    body TEXT NOT NULL
)
"""


@dataclass(frozen=True)
class CachedResponse:
    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    finish_reason: str | None = None


def default_cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "support-eval" / "responses.sqlite"


def cache_key(model: str, messages: list[dict[str, str]], params: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of what decides the answer (not the server's address)."""
    payload = json.dumps(
        {"model": model, "messages": messages, "params": params},
        sort_keys=True, ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


class ResponseCache:
    """One SQLite file; use from one thread (the responder's event loop thread)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.execute(_SCHEMA)

    def get(self, key: str) -> CachedResponse | None:
        row = self._db.execute("SELECT body FROM responses WHERE key = ?", (key,)).fetchone()
        return None if row is None else CachedResponse(**json.loads(row[0]))

    def contains(self, key: str) -> bool:
        return self._db.execute("SELECT 1 FROM responses WHERE key = ?", (key,)).fetchone() is not None

    def put(self, key: str, model: str, response: CachedResponse) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO responses (key, model, body) VALUES (?, ?, ?)",
            (key, model, json.dumps(asdict(response), sort_keys=True)),
        )

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        self._db.close()
