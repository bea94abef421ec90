"""The ingest stage: inputs -> valid tickets + quarantined records, with reconciled counts.

Every record read comes out exactly once, as a Ticket or as a Quarantined entry, in input
order; ``ingest_to_dir`` checks read == kept + quarantined before its files appear.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from eval.errors import UsageError
from eval.engines.local import available_cpus
from eval.ingest.adapters import Format, export_rows
from eval.ingest.mapping import Mapping
from eval.ingest.parallel import Judged, judge_in_pool
from eval.ingest.quarantine import REASONS, IngestError, Problem
from eval.ingest.sources import BATCH, SourceRow, is_jsonl_file, read_rows
from eval.ingest.validate import KeptIds, check_record
from eval.records import Quarantined, Ticket
from eval.run.batches import checkpointed
from eval.run.folder import RunFolder
from eval.run.manifest import update_manifest
from eval.store import batch_rows, file_stat

Advance = Callable[[int], None]


class IngestSummary(BaseModel):
    read: int = 0
    kept: int = 0
    quarantined: int = 0
    by_reason: dict[str, int] = Field(default_factory=dict)
    sources: list[str] = Field(default_factory=list)

    @property
    def quarantine_share(self) -> float:
        return self.quarantined / self.read if self.read else 0.0

    def over_limit(self, max_share: float) -> str | None:
        """The message to stop on when too much was quarantined, else None."""
        if self.quarantine_share <= max_share:
            return None
        top = ", ".join(f"{reason} {n}" for reason, n in self.by_reason.items())
        return (
            f"{self.quarantined} of {self.read} records quarantined ({self.quarantine_share:.1%}), "
            f"over the limit of {max_share:.1%}: {top}"
        )


def ingest(
    paths: Sequence[str],
    mapping: Mapping | None = None,
    max_text_chars: int = 20_000,
    advance: Advance | None = None,
    fmt: Format = "tickets",
) -> Iterator[Ticket | Quarantined]:
    """Each input record, in order, as a valid Ticket or as a Quarantined entry saying why; for a
    helpdesk export (``fmt``) a record is one vendor ticket."""
    yield from _ingest(paths, mapping, max_text_chars, advance, Counter(), fmt)


def _ingest(
    paths: Sequence[str],
    mapping: Mapping | None,
    max_text_chars: int,
    advance: Advance | None,
    tally: Counter[str],
    fmt: Format = "tickets",
    workers: int = 1,
) -> Iterator[Ticket | Quarantined]:
    """``tally["read"]`` counts records as the loaders produced them, for the reconciliation."""
    _check_args(paths, max_text_chars)
    sources = [str(p) for p in paths]
    index_of = {source: index for index, source in reversed(list(enumerate(sources)))}
    pending = 0
    with KeptIds(sources) as kept_ids:
        for row in _rows(sources, fmt, mapping, workers):
            tally["read"] += 1
            yield _judge(row, index_of[row.source], mapping, max_text_chars, kept_ids)
            pending += 1
            if advance is not None and pending == BATCH:
                advance(pending)
                pending = 0
    if advance is not None and pending:
        advance(pending)


def _rows(sources: list[str], fmt: Format, mapping: Mapping | None, workers: int) -> Iterator[SourceRow]:
    if fmt != "tickets":
        return export_rows(sources, fmt, mapping, workers)
    return (row for source in sources for row in read_rows(source))


def _check_args(paths: Sequence[str], max_text_chars: int) -> None:
    if not paths:
        raise IngestError("no input files given")
    if max_text_chars <= 0:
        raise UsageError(f"max_text_chars must be positive, got {max_text_chars}")


def _judge(
    row: SourceRow, source_index: int, mapping: Mapping | None, max_text_chars: int, kept_ids: KeptIds
) -> Ticket | Quarantined:
    outcome = row.problem or _check(row, source_index, mapping, max_text_chars, kept_ids)
    if isinstance(outcome, Ticket):
        return outcome
    return outcome.quarantine(row.source, row.line, row.raw, row.at)


def _check(
    row: SourceRow, source_index: int, mapping: Mapping | None, max_text_chars: int, kept_ids: KeptIds
) -> Ticket | Problem:
    """Only called for a row that was read (``record`` set, no problem)."""
    result = check_record(row, mapping, max_text_chars)
    if isinstance(result, Problem):
        return result
    return kept_ids.claim(result.ticket_id, source_index, row.line) or result


def ingest_to_dir(
    paths: Sequence[str],
    out_dir: Path,
    mapping: Mapping | None = None,
    max_text_chars: int = 20_000,
    advance: Advance | None = None,
    workers: int | None = None,
    fmt: Format = "tickets",
) -> IngestSummary:
    """Write ``tickets.jsonl`` and ``quarantine.jsonl`` (byte-deterministic) in committed batches
    and the counts, also stored under ``ingest`` in the run manifest.

    A killed ingest resumes from its last batch: the records before it are judged again without
    being written (duplicate-id detection needs every kept id and where it came from, and
    re-deriving them costs less than storing them in each progress record).

    JSON Lines inputs are judged, and helpdesk exports cleaned, on ``workers`` processes (default:
    every core this process may use); the bytes written do not depend on it.
    """
    out_dir = Path(out_dir)
    key = {"stage": "ingest", "sources": [file_stat(p) for p in paths], "mapping": repr(mapping),
           "max_text_chars": max_text_chars, **({"format": fmt} if fmt != "tickets" else {})}
    tally: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    folder = RunFolder(out_dir)
    counts = RecordCounts(tally, reasons)

    def start(position: dict[str, int], _: object) -> tuple[RecordCounts, Iterator[RecordBatch]]:
        judged = _judged(paths, mapping, max_text_chars, advance, tally, workers or available_cpus(), fmt)
        return counts, _batches(judged, position.get("records", 0), counts)

    checkpointed([folder.tickets, folder.quarantine], key, start, verify=_reconcile)
    summary = IngestSummary(
        read=tally["read"], kept=tally["kept"], quarantined=tally["quarantined"],
        by_reason={reason: reasons[reason] for reason in REASONS if reasons[reason]},
        sources=[str(p) for p in paths],
    )
    update_manifest(out_dir, ingest=summary.model_dump())
    return summary


def _judged(
    paths: Sequence[str], mapping: Mapping | None, max_text_chars: int, advance: Advance | None,
    tally: Counter[str], workers: int, fmt: Format,
) -> Iterator[Judged]:
    """Every record's output line, from a process pool for JSON Lines (CSV, Parquet and hub rows
    arrive parsed by ``datasets``: shipping them to workers would cost about what judging them does).
    An input of up to two commit batches stays in this process."""
    _check_args(paths, max_text_chars)
    if fmt == "tickets" and workers > 1 and all(is_jsonl_file(p) for p in paths):
        return judge_in_pool(paths, mapping, max_text_chars, workers, 2 * batch_rows(), advance, tally)
    records = _ingest(paths, mapping, max_text_chars, advance, tally, fmt, workers)
    return ((isinstance(r, Ticket), getattr(r, "reason", ""), r.model_dump_json()) for r in records)


@dataclass
class RecordBatch:
    """Output lines of consecutive records (tickets, quarantined) and the records read up to them."""

    tickets: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    records: int = 0

    @property
    def position(self) -> dict[str, int]:
        return {"records": self.records}

    @property
    def rows(self) -> int:
        return len(self.tickets) + len(self.quarantined)

    @property
    def done(self) -> int:
        return 0  # the judge moves the progress bar itself, record by record

    def texts(self) -> tuple[tuple[str, int], tuple[str, int]]:
        """One write per file and batch: a write per record cost more than serialising it."""
        return ("".join(self.tickets), len(self.tickets)), ("".join(self.quarantined), len(self.quarantined))


@dataclass
class RecordCounts:
    """Every record counted, also those a resumed ingest judges again without writing them."""

    tally: Counter[str]
    reasons: Counter[str]

    def count(self, is_ticket: bool, reason: str) -> None:
        self.tally["kept" if is_ticket else "quarantined"] += 1
        if not is_ticket:
            self.reasons[reason] += 1

    def add(self, batch: RecordBatch) -> None:
        """Counted as judged, in ``count``: the written batches are only those after ``done``."""

    def state(self) -> dict[str, Any]:
        return {}


def _batches(judged: Iterator[Judged], done: int, counts: RecordCounts) -> Iterator[RecordBatch]:
    """Batches of ``batch_rows()`` records after the first ``done`` (the ones a resumed checkpoint
    lacks), so commits fall where they fell in the run that was killed."""
    rows = batch_rows()
    batch = RecordBatch(records=done)
    for n, (is_ticket, reason, line) in enumerate(judged, start=1):
        counts.count(is_ticket, reason)
        if n <= done:
            continue
        (batch.tickets if is_ticket else batch.quarantined).append(line + "\n")
        batch.records = n
        if n % rows == 0:
            yield batch
            batch.tickets.clear()  # written once the loop asks for more: free its lines before the next fill
            batch.quarantined.clear()
    if batch.rows:
        yield batch


def _reconcile(counts: RecordCounts, lines: list[int]) -> None:
    """Records in = tickets + quarantined, and both files hold exactly those lines."""
    tally = counts.tally
    if tally["read"] != tally["kept"] + tally["quarantined"] or lines != [tally["kept"], tally["quarantined"]]:
        raise RuntimeError(
            f"ingest lost track of records: read {tally['read']}, kept {tally['kept']}, quarantined "
            f"{tally['quarantined']}, lines written {lines[0]} + {lines[1]}"
        )
