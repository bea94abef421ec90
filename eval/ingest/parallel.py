"""JSON Lines ingest on every core: the per-record work (UTF-8 and JSON parse, mapping, validation,
serialization) runs in a process pool, one batch of raw lines at a time; the ingest process keeps
what must run in input order (reading, duplicate-id claims, counts, writes and commits).

Batches travel as line bytes in and as finished JSON lines out, never as pydantic objects: pickling
those cost more than building them. Workers import neither ``datasets`` nor pyarrow: only this
module and the record models.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from itertools import chain
from pathlib import Path
from typing import NamedTuple

from eval.engines.local import ordered_map
from eval.ingest.mapping import Mapping
from eval.ingest.quarantine import Problem
from eval.ingest.sources import json_line, jsonl_lines
from eval.ingest.validate import KeptIds, check_record
from eval.records import Ticket

Judged = tuple[bool, str, str]
"""(kept, quarantine reason or "", the JSON line without its newline): one record's output."""
LINES = 1024
"""Lines per pool batch: enough to make the per-batch cost (pickling, queues) negligible, few
enough that the batches in flight, held in every process, stay a few MB."""


class LineBatch(NamedTuple):
    """Lines of one source, joined by ``\\n`` (a line read holds none): one bytes object pickles
    at memory speed, a list of them at ~1 µs a line."""

    source: str
    source_index: int
    linenos: list[int]
    lines: bytes


class Outcomes(NamedTuple):
    """A batch judged without the duplicate check: ``ticket_ids[i]`` is set for a valid Ticket,
    ``reasons[i]`` for a quarantined record; ``lines`` are the JSON lines joined by ``\\n``."""

    ticket_ids: list[str | None]
    reasons: list[str]
    lines: str


_SETUP: list[tuple[Mapping | None, int]] = []


def _setup(mapping: Mapping | None, max_text_chars: int) -> None:
    """Pool initializer: the run parameters, sent once per worker rather than with each batch."""
    _SETUP[:] = [(mapping, max_text_chars)]


def judge_lines(batch: LineBatch) -> Outcomes:
    """Every line of the batch as a Ticket line or a Quarantined line (worker side)."""
    mapping, max_text_chars = _SETUP[0]
    out = Outcomes([], [], "")
    lines = []
    for lineno, data in zip(batch.linenos, batch.lines.split(b"\n"), strict=True):
        row = json_line(data, batch.source, lineno)
        result = row.problem or check_record(row, mapping, max_text_chars)
        if isinstance(result, Ticket):
            out.ticket_ids.append(result.ticket_id)
            out.reasons.append("")
            lines.append(result.model_dump_json())
        else:
            out.ticket_ids.append(None)
            out.reasons.append(result.reason)
            lines.append(result.quarantine(row.source, row.line, row.raw).model_dump_json())
    return out._replace(lines="\n".join(lines))


def judge_in_pool(
    paths: Sequence[str], mapping: Mapping | None, max_text_chars: int, workers: int, small: int,
    advance: Callable[[int], None] | None, tally: Counter[str],
) -> Iterator[Judged]:
    """Each record of the JSONL ``paths``, in input order, judged in ``workers`` processes, or
    in this one for an input of at most ``small`` records (starting a pool would cost more).

    The batches sent are also held here until their results come back, to rebuild the rare
    duplicate's quarantine entry from its line."""
    sources = [str(p) for p in paths]
    held: deque[LineBatch] = deque()
    with KeptIds(sources) as kept_ids:
        batches = _line_batches(sources, LINES, held, tally)
        head = _head(batches, small)
        workers = workers if sum(len(b.linenos) for b in head) > small else 1
        for outcomes in ordered_map(judge_lines, chain(head, batches), workers, _setup, (mapping, max_text_chars)):
            yield from _claim(held.popleft(), outcomes, kept_ids)
            if advance is not None:
                advance(len(outcomes.ticket_ids))


def _head(batches: Iterator[LineBatch], records: int) -> list[LineBatch]:
    """The first batches, until they hold more than ``records`` records or the input ends."""
    head: list[LineBatch] = []
    count = 0
    for batch in batches:
        head.append(batch)
        count += len(batch.linenos)
        if count > records:
            break
    return head


def _line_batches(sources: list[str], size: int, held: deque[LineBatch], tally: Counter[str]) -> Iterator[LineBatch]:
    """Batches of ``size`` lines (the last of each file shorter), each appended to ``held`` as it is sent."""
    for index, source in enumerate(sources):
        linenos: list[int] = []
        lines: list[bytes] = []
        for lineno, data in jsonl_lines(Path(source), source):
            linenos.append(lineno)
            lines.append(data)
            if len(lines) == size:
                yield _held(LineBatch(source, index, linenos, b"\n".join(lines)), held, tally)
                linenos, lines = [], []
        if lines:
            yield _held(LineBatch(source, index, linenos, b"\n".join(lines)), held, tally)


def _held(batch: LineBatch, held: deque[LineBatch], tally: Counter[str]) -> LineBatch:
    held.append(batch)
    tally["read"] += len(batch.linenos)
    return batch


def _claim(batch: LineBatch, outcomes: Outcomes, kept_ids: KeptIds) -> Iterator[Judged]:
    """The duplicate-id check, in input order: a ticket whose id was kept before is quarantined."""
    lines = outcomes.lines.split("\n")
    for i, (lineno, ticket_id, line) in enumerate(zip(batch.linenos, outcomes.ticket_ids, lines, strict=True)):
        if ticket_id is None:
            yield False, outcomes.reasons[i], line
            continue
        duplicate = kept_ids.claim(ticket_id, batch.source_index, lineno)
        if duplicate is None:
            yield True, "", line
        else:
            data = batch.lines.split(b"\n")[i]
            yield False, duplicate.reason, _quarantine_line(duplicate, batch.source, lineno, data)


def _quarantine_line(problem: Problem, source: str, lineno: int, data: bytes) -> str:
    return problem.quarantine(source, lineno, json_line(data, source, lineno).raw).model_dump_json()
