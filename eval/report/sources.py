"""Reads what the report needs from a run folder; every other report module is pure.

Bad input raises with the file, line and field (``RecordError``), never a half-empty report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from eval.errors import MissingInput
from eval.decide import read_scores
from eval.ratings.importer import read_ratings
from eval.records import Decisions, Item, Monitor
from eval.run.folder import RunFolder
from eval.run.manifest import load_manifest
from eval.store import RecordError, read_jsonl


class _TicketRef(BaseModel):
    """The ticket fields the workload figures need (turns are not read)."""

    model_config = ConfigDict(extra="ignore")

    category: str
    created_at: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class TicketStats:
    """Tickets per category over the data's time span, with handle times where recorded."""

    tickets: pd.DataFrame
    """One row per ticket: category, created (UTC timestamp or NaT), handle_time_s (float or NaN)."""
    quarantined: int


@dataclass(frozen=True)
class RunData:
    run_dir: Path
    decisions: Decisions
    raw_decisions: dict[str, Any]
    agreement: dict[str, Any]
    manifest: dict[str, Any]
    ratings: pd.DataFrame
    scores: pd.DataFrame | None
    ticket_stats: TicketStats
    monitor: Monitor | None = None
    """RUN/monitor.json where ``support-eval monitor`` has run."""


def read_json_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise MissingInput(f"{path}: not found; run `support-eval decide` on the run first", file=path) from exc
    except json.JSONDecodeError as exc:
        raise RecordError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from exc


def read_decisions(path: Path) -> tuple[Decisions, dict[str, Any]]:
    """The validated decisions and the raw JSON (which keeps fields other stages added, e.g. a judge)."""
    raw = read_json_file(path)
    try:
        return Decisions.model_validate(raw), raw
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"])
        raise RecordError(f"{path}: field '{where}': {err['msg']}") from exc


def _created(value: str | None, path: Path, line: int) -> pd.Timestamp:
    if value is None:
        return pd.NaT
    try:
        return pd.Timestamp(datetime.fromisoformat(value)).tz_convert("UTC")
    except (ValueError, TypeError) as exc:
        raise RecordError(f"{path}:{line}: field 'created_at': not an ISO 8601 time: {value!r}") from exc


def _handle_time(meta: dict[str, Any], path: Path, line: int) -> float:
    value = meta.get("handle_time_s")
    if value is None:
        return float("nan")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise RecordError(f"{path}:{line}: field 'metadata.handle_time_s': expected seconds >= 0, got {value!r}")
    return float(value)


def read_ticket_stats(run_dir: Path) -> TicketStats:
    folder = RunFolder(run_dir)
    path = folder.tickets
    rows = [
        (t.category, _created(t.created_at, path, n), _handle_time(t.metadata, path, n))
        for n, t in enumerate(read_jsonl(path, _TicketRef), start=1)
    ]
    quarantine = folder.quarantine
    quarantined = sum(1 for line in quarantine.open(encoding="utf-8") if line.strip()) if quarantine.exists() else 0
    frame = pd.DataFrame(rows, columns=["category", "created", "handle_time_s"])
    frame["created"] = pd.to_datetime(frame["created"], utc=True)
    return TicketStats(frame, quarantined)


def read_items(path: Path, wanted: set[str]) -> tuple[dict[str, Item], list[str], int]:
    """The ``wanted`` items, every historical agent text (to learn signatures) and the item count."""
    found: dict[str, Item] = {}
    agent_texts: list[str] = []
    total = 0
    for item in read_jsonl(path, Item):
        total += 1
        agent_texts.append(item.human.text)
        agent_texts.extend(t.text for t in item.context if t.role == "agent")
        if item.item_id in wanted:
            found[item.item_id] = item
    return found, agent_texts, total


def load_run(run_dir: Path) -> RunData:
    """Everything but the example items (chosen from these tables, then read by ``read_items``)."""
    run_dir = Path(run_dir)
    folder = RunFolder(run_dir)
    decisions, raw = read_decisions(folder.decisions)
    agreement = read_json_file(folder.agreement) if folder.agreement.exists() else {}
    ratings = read_ratings(folder.ratings) if folder.ratings.exists() else pd.DataFrame(
        columns=["item_id", "category", "reviewer", "score_ai", "score_human", "critical_ai"])
    scores = read_scores(folder.scores) if folder.scores.exists() else None
    monitor_path = folder.path("monitor")
    monitor = Monitor.model_validate(read_json_file(monitor_path)) if monitor_path.exists() else None
    return RunData(
        run_dir=run_dir, decisions=decisions, raw_decisions=raw, agreement=agreement,
        manifest=load_manifest(run_dir), ratings=ratings, scores=scores,
        ticket_stats=read_ticket_stats(run_dir), monitor=monitor,
    )
