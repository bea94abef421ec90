"""The rating app's SQLite store: reviewers' queues (loaded from the packets) and their ratings.

A queue row of a single-answer packet has kind ``single`` (its one answer in ``answer_x``, an
empty ``answer_y``); its review goes to the ``reviews`` table, whose columns are the Review's.
Audit packets (``packets/audit/``) are single-answer packets and load the same way.

The key and the automatic scores are never loaded here, so no request can leak them. The file
holds the reviewer tokens, so it is private to the user (0600, and SQLite gives its WAL files
the same mode). A rating
is one row per (rating_id, reviewer): a UNIQUE constraint plus INSERT ... ON CONFLICT makes a
double submit or a second tab update that row instead of adding one. WAL lets readers work
while a rating is written; each request opens its own connection.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, UTC
from pathlib import Path
from typing import Any

from eval.errors import MissingInput
from eval.ratings.shown import PacketRow
from eval.ratings.single import AuditKey, BlindReview, ReviewKey, SingleRow
from eval.records import BlindKey, Rating
from eval.run.folder import RunFolder
from eval.store import read_jsonl

DB_NAME = "ratings_app.sqlite"
MAX_SECONDS = 86_400.0
"""Time on one item is kept only up to a day: anything longer is a tab left open, not rating time."""
RATING_FIELDS = ("score_x", "score_y", "preference", "acceptable_x", "acceptable_y",
                 "critical_x", "critical_y", "comment", "seconds")
SCHEMA = """
CREATE TABLE IF NOT EXISTS reviewers (reviewer TEXT PRIMARY KEY, token TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS queue (
    rating_id TEXT NOT NULL, reviewer TEXT NOT NULL REFERENCES reviewers(reviewer),
    position INTEGER NOT NULL, category TEXT NOT NULL, context TEXT NOT NULL,
    answer_x TEXT NOT NULL, answer_y TEXT NOT NULL, facts TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (rating_id, reviewer));
CREATE TABLE IF NOT EXISTS ratings (
    rating_id TEXT NOT NULL, reviewer TEXT NOT NULL,
    score_x INTEGER NOT NULL CHECK (score_x BETWEEN 1 AND 5),
    score_y INTEGER NOT NULL CHECK (score_y BETWEEN 1 AND 5),
    preference TEXT NOT NULL CHECK (preference IN ('x', 'y', 'tie_good', 'tie_bad')),
    acceptable_x INTEGER NOT NULL, acceptable_y INTEGER NOT NULL,
    critical_x INTEGER NOT NULL, critical_y INTEGER NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    seconds REAL CHECK (seconds IS NULL OR (seconds >= 0 AND seconds <= 86400)), saved_at TEXT NOT NULL,
    UNIQUE (rating_id, reviewer),
    FOREIGN KEY (rating_id, reviewer) REFERENCES queue (rating_id, reviewer));
CREATE TABLE IF NOT EXISTS reviews (
    review_id TEXT NOT NULL, reviewer TEXT NOT NULL,
    score INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    acceptable INTEGER NOT NULL, critical INTEGER NOT NULL, comment TEXT NOT NULL DEFAULT '',
    seconds REAL CHECK (seconds IS NULL OR (seconds >= 0 AND seconds <= 86400)), saved_at TEXT NOT NULL,
    UNIQUE (review_id, reviewer),
    FOREIGN KEY (review_id, reviewer) REFERENCES queue (rating_id, reviewer));
"""
REVIEW_FIELDS = ("score", "acceptable", "critical", "comment", "seconds")


def db_path(run_dir: Path) -> Path:
    return Path(run_dir) / DB_NAME


@contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    """One connection for one request; committed on success, rolled back on error."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.row_factory = sqlite3.Row
        yield conn
    finally:
        conn.close()


def _private(path: Path) -> None:
    """Create the store 0600 before SQLite opens it, and tighten one made by an older version."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists():
            os.chmod(file, 0o600)


def _add_columns(conn: sqlite3.Connection) -> None:
    """Stores made before ticket facts were shown, or before single-answer packets, get the column."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(queue)")}
    if "facts" not in have:
        conn.execute("ALTER TABLE queue ADD COLUMN facts TEXT NOT NULL DEFAULT '[]'")
    if "kind" not in have:
        conn.execute("ALTER TABLE queue ADD COLUMN kind TEXT NOT NULL DEFAULT 'paired'")


def _packet(path: Path) -> list[tuple[str, str, str, str, PacketRow | SingleRow]]:
    """(queue id, kind, answer_x, answer_y, row) per line of a reviewer's packet of either kind."""
    with open(path, encoding="utf-8") as fh:
        first = fh.readline()
    if first.strip() and "review_id" in json.loads(first):
        return [(r.review_id, "single", r.answer, "", r) for r in read_jsonl(path, SingleRow)]
    return [(r.rating_id, "paired", r.answer_x, r.answer_y, r) for r in read_jsonl(path, PacketRow)]


def load_packets(path: Path, run_dir: Path) -> int:
    """Create the store and add the queues of RUN/packets (rows already loaded are kept as they are)."""
    run = RunFolder(Path(run_dir))
    folder, tokens_file = run.packets, run.tokens
    if not tokens_file.exists():
        raise MissingInput(f"{tokens_file}: no reviewer tokens; run `support-eval packets` first")
    tokens = json.loads(tokens_file.read_text(encoding="utf-8"))
    added = 0
    _private(path)
    with connect(path) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.executescript(SCHEMA)
        _add_columns(conn)
        conn.execute("BEGIN IMMEDIATE")
        for reviewer, token in tokens.items():
            conn.execute("INSERT INTO reviewers VALUES (?, ?) ON CONFLICT(reviewer) DO UPDATE SET token = excluded.token",
                         (reviewer, token))
            packets = [p for p in (folder / f"{reviewer}.jsonl", run.path("audit_packets") / f"{reviewer}.jsonl")
                       if p.exists()]
            for queue_id, kind, answer_x, answer_y, row in (row for p in packets for row in _packet(p)):
                cur = conn.execute(
                    "INSERT OR IGNORE INTO queue (rating_id, reviewer, position, category, context, answer_x, "
                    "answer_y, facts, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (queue_id, reviewer, row.position, row.category,
                     json.dumps([t.model_dump() for t in row.context], ensure_ascii=False),
                     answer_x, answer_y, json.dumps(row.facts, ensure_ascii=False), kind))
                added += cur.rowcount
        _drop_void(conn, run.key, run.review_key, run.audit_key)
        conn.execute("COMMIT")
    return added


def _drop_void(conn: sqlite3.Connection, key_path: Path, review_key_path: Path, audit_key_path: Path) -> None:
    """Unrated queue rows whose id left the keys (packets redrawn) are removed.

    Only the sets of valid ids are read from the keys; which answer is whose never enters the store.
    Rated rows always stay: a rating or review is never thrown away here.
    """
    if not key_path.exists() and not review_key_path.exists() and not audit_key_path.exists():
        return
    valid = {k.rating_id for k in read_jsonl(key_path, BlindKey)} if key_path.exists() else set()
    valid |= {k.review_id for k in read_jsonl(review_key_path, ReviewKey)} if review_key_path.exists() else set()
    valid |= {k.review_id for k in read_jsonl(audit_key_path, AuditKey)} if audit_key_path.exists() else set()
    rows = conn.execute("SELECT q.rating_id, q.reviewer FROM queue q LEFT JOIN ratings r ON r.rating_id = q.rating_id "
                        "AND r.reviewer = q.reviewer LEFT JOIN reviews v ON v.review_id = q.rating_id "
                        "AND v.reviewer = q.reviewer WHERE r.rating_id IS NULL AND v.review_id IS NULL").fetchall()
    conn.executemany("DELETE FROM queue WHERE rating_id = ? AND reviewer = ?",
                     [(r["rating_id"], r["reviewer"]) for r in rows if r["rating_id"] not in valid])


def reviewer_of(conn: sqlite3.Connection, token: str) -> str | None:
    """The reviewer a token belongs to, compared in constant time."""
    found = None
    for row in conn.execute("SELECT reviewer, token FROM reviewers"):
        if secrets.compare_digest(row["token"].encode(), token.encode()):
            found = row["reviewer"]
    return found


def _rating(row: sqlite3.Row) -> dict[str, Any] | None:
    if row["score_x"] is None:
        return None
    out = {name: row[name] for name in RATING_FIELDS}
    for name in ("acceptable_x", "acceptable_y", "critical_x", "critical_y"):
        out[name] = bool(out[name])
    out["seconds"] = _seconds(out["seconds"])
    return out


def _seconds(value: Any) -> float | None:
    """Stored time as a usable number: a store written by an older version may hold inf or 1e308,
    and one such value must never make the reviewer's queue unreadable."""
    if not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 <= value <= MAX_SECONDS:
        return None
    return float(value)


def _review(row: sqlite3.Row) -> dict[str, Any] | None:
    if row["v_score"] is None:
        return None
    return {"score": row["v_score"], "acceptable": bool(row["v_acceptable"]), "critical": bool(row["v_critical"]),
            "comment": row["v_comment"], "seconds": _seconds(row["v_seconds"])}


def queue(conn: sqlite3.Connection, reviewer: str) -> list[dict[str, Any]]:
    """The reviewer's own items in queue order, each with their saved rating or review (or None)."""
    rows = conn.execute(
        f"SELECT q.rating_id, q.kind, q.category, q.context, q.answer_x, q.answer_y, q.facts, "
        f"{', '.join('r.' + f for f in RATING_FIELDS)}, {', '.join(f'v.{f} AS v_{f}' for f in REVIEW_FIELDS)} "
        "FROM queue q LEFT JOIN ratings r ON r.rating_id = q.rating_id AND r.reviewer = q.reviewer "
        "LEFT JOIN reviews v ON v.review_id = q.rating_id AND v.reviewer = q.reviewer "
        "WHERE q.reviewer = ? ORDER BY q.rowid",
        (reviewer,),
    )
    return [
        {"rating_id": r["rating_id"], "kind": "single", "category": r["category"], "context": json.loads(r["context"]),
         "answer": r["answer_x"], "facts": json.loads(r["facts"]), "rating": _review(r)}
        if r["kind"] == "single" else
        {"rating_id": r["rating_id"], "category": r["category"], "context": json.loads(r["context"]),
         "answer_x": r["answer_x"], "answer_y": r["answer_y"], "facts": json.loads(r["facts"]),
         "rating": _rating(r)}
        for r in rows
    ]


def _upsert(conn: sqlite3.Connection, reviewer: str, queue_id: str, kind: str, values: dict[str, Any]) -> bool:
    """Store or update one rating (paired) or review (single) atomically; False when it is not in the queue."""
    if conn.execute("SELECT 1 FROM queue WHERE rating_id = ? AND reviewer = ? AND kind = ?",
                    (queue_id, reviewer, kind)).fetchone() is None:
        return False
    paired = kind == "paired"
    table, id_col, fields = ("ratings", "rating_id", RATING_FIELDS) if paired else ("reviews", "review_id", REVIEW_FIELDS)
    updates = ", ".join(f"{f} = excluded.{f}" for f in (*fields, "saved_at"))
    conn.execute(
        f"INSERT INTO {table} ({id_col}, reviewer, {', '.join(fields)}, saved_at) "
        f"VALUES (?, ?, {', '.join('?' * len(fields))}, ?) ON CONFLICT ({id_col}, reviewer) DO UPDATE SET {updates}",
        (queue_id, reviewer, *(values[f] for f in fields), datetime.now(UTC).isoformat()),
    )
    return True


def save(conn: sqlite3.Connection, reviewer: str, rating_id: str, values: dict[str, Any]) -> bool:
    """Store or update one rating; False when the rating_id is not a paired item of this reviewer's queue."""
    return _upsert(conn, reviewer, rating_id, "paired", values)


def save_review(conn: sqlite3.Connection, reviewer: str, review_id: str, values: dict[str, Any]) -> bool:
    """Store or update one review; False when the review_id is not a single answer of this reviewer's queue."""
    return _upsert(conn, reviewer, review_id, "single", values)


def progress(conn: sqlite3.Connection, reviewer: str) -> tuple[int, int]:
    """(rated, total) in the reviewer's queue."""
    total = conn.execute("SELECT COUNT(*) FROM queue WHERE reviewer = ?", (reviewer,)).fetchone()[0]
    done = sum(conn.execute(f"SELECT COUNT(*) FROM {table} WHERE reviewer = ?", (reviewer,)).fetchone()[0]
               for table in ("ratings", "reviews"))
    return done, total


def has_single(conn: sqlite3.Connection) -> bool:
    """Whether any queue holds single-answer packets (then the app's reviews are exported too)."""
    return conn.execute("SELECT 1 FROM queue WHERE kind = 'single' LIMIT 1").fetchone() is not None


def all_reviews(conn: sqlite3.Connection) -> list[BlindReview]:
    """Every stored review, still blind (a key names its answer at import), by reviewer and queue order; reviewed_at:
    when it was stored (the export's time for none)."""
    rows = conn.execute(
        f"SELECT v.review_id, v.reviewer, v.saved_at, {', '.join(f'v.{f} AS v_{f}' for f in REVIEW_FIELDS)} FROM reviews v "
        "JOIN queue q ON q.rating_id = v.review_id AND q.reviewer = v.reviewer ORDER BY v.reviewer, q.rowid"
    )
    now = datetime.now(UTC).isoformat()
    return [BlindReview(review_id=r["review_id"], reviewer=r["reviewer"], reviewed_at=r["saved_at"] or now,
                        **(_review(r) or {})) for r in rows]


def all_ratings(conn: sqlite3.Connection) -> list[Rating]:
    """Every stored rating in the DESIGN.md Rating format, by reviewer and queue order."""
    rows = conn.execute(
        f"SELECT r.rating_id, r.reviewer, {', '.join('r.' + f for f in RATING_FIELDS)} FROM ratings r "
        "JOIN queue q ON q.rating_id = r.rating_id AND q.reviewer = r.reviewer ORDER BY r.reviewer, q.rowid"
    )
    return [Rating(rating_id=r["rating_id"], reviewer=r["reviewer"], **(_rating(r) or {})) for r in rows]
