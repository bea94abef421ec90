"""Read input files (JSONL, CSV, TSV, Parquet) or a hub dataset as numbered raw records.

CSV, TSV, Parquet and hub datasets are read through Hugging Face ``datasets`` in streaming mode
(``IterableDataset``): nothing proportional to the input is held in memory and no Arrow cache is
written.

JSONL is read line by line here, without ``datasets``: its ``json`` builder fails a whole file on
one truncated line, cannot report line numbers and needs one Arrow schema for all records (one
record with a wrong type breaks the file), and its ``text`` builder (used before) only split lines,
at 3x the cost of Python's own reader and ~115 MB of imports in the ingest process. Each line is
checked for UTF-8 and parsed with ``json`` here, in the ingest process or in its pool.

Invalid UTF-8 is caught per line (per cell for CSV) by reading the file as Latin-1, which
maps every byte to one character and never fails, and decoding each line's bytes as UTF-8
ourselves. This is lossless and does not move line breaks or CSV delimiters, because UTF-8
multi-byte sequences never contain ASCII bytes.

Numbering: ``line`` is the 1-based file line for JSONL (``\\r\\n`` and lone ``\\r`` count as
one line break, blank lines are counted but are not records); for CSV, TSV, Parquet and hub
datasets it is the 1-based data row, header excluded (a quoted CSV cell may span lines).
"""

from __future__ import annotations

import codecs
import csv
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from eval.ingest.quarantine import RECORD, IngestError, Problem

# datasets and pandas (with pyarrow, ~150 MB) are imported inside the loaders: importing this module
# for its types must not load them into a process that reads no input (a run's main process).
if TYPE_CHECKING:
    import datasets


SourceKind = Literal["jsonl", "csv", "parquet", "hub", "export"]
"""``export``: a ticket a helpdesk adapter built (already in our shape; no mapping applies)."""

SUFFIXES: dict[str, tuple[SourceKind, dict[str, Any]]] = {
    ".jsonl": ("jsonl", {}),
    ".ndjson": ("jsonl", {}),
    ".json": ("jsonl", {}),
    ".csv": ("csv", {"sep": ","}),
    ".tsv": ("csv", {"sep": "\t"}),
    ".parquet": ("parquet", {}),
    ".pq": ("parquet", {}),
}
HUB_NAME = re.compile(r"[\w.-]+/[\w.-]+(:[\w.-]+)?")
BATCH = 1024
_OFFLINE_VARS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")


@dataclass(frozen=True)
class SourceRow:
    """One input record as read: ``record`` is None when ``problem`` says why it is unreadable.
    ``at`` locates the record within its line when the line holds several (``tickets[3]``)."""

    source: str
    line: int
    kind: SourceKind
    record: dict[str, Any] | None
    raw: Any
    problem: Problem | None = None
    at: str | None = None


def read_rows(path: str, batch_size: int = BATCH) -> Iterator[SourceRow]:
    """Every record of one input, in file order; a file that cannot be read at all raises."""
    local = Path(path)
    suffix = local.suffix.lower()
    if not local.exists():
        if suffix not in SUFFIXES and HUB_NAME.fullmatch(path):
            yield from _hub_rows(path, batch_size)
            return
        raise IngestError(f"{path}: file not found")
    if local.is_dir():
        raise IngestError(f"{path}: is a directory; pass the data files themselves")
    if suffix not in SUFFIXES:
        known = ", ".join(sorted(SUFFIXES))
        raise IngestError(f"{path}: unknown file type '{suffix}' (expected one of {known})")
    kind, options = SUFFIXES[suffix]
    if kind == "jsonl":
        yield from _jsonl_rows(local, path)
    elif kind == "csv":
        yield from _csv_rows(local, path, options["sep"], batch_size)
    else:
        ds = _load_local("parquet", local)
        yield from _table_rows(ds, path, "parquet", batch_size)


@contextmanager
def _offline() -> Iterator[None]:
    """Local files must never reach the network (tests run offline). ``datasets`` reads the
    variables at import time, so its config flag is switched too; both are restored after."""
    import datasets

    saved_env = {name: os.environ.get(name) for name in _OFFLINE_VARS}
    saved_flag = datasets.config.HF_HUB_OFFLINE
    os.environ.update({name: "1" for name in _OFFLINE_VARS})
    datasets.config.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        datasets.config.HF_HUB_OFFLINE = saved_flag
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _load_local(builder: str, path: Path, **options: Any) -> datasets.IterableDataset:
    import datasets

    with _offline():
        return datasets.load_dataset(
            builder, data_files=[str(path.resolve())], split="train", streaming=True, **options
        )


def is_jsonl_file(path: str) -> bool:
    """True for an existing local file that ``read_rows`` reads as JSON Lines."""
    local = Path(path)
    return local.is_file() and SUFFIXES.get(local.suffix.lower(), ("",))[0] == "jsonl"


def _jsonl_rows(path: Path, source: str) -> Iterator[SourceRow]:
    for lineno, data in jsonl_lines(path, source):
        yield json_line(data, source, lineno)


def jsonl_lines(path: Path, source: str) -> Iterator[tuple[int, bytes]]:
    """The 1-based number and bytes of every non-blank line, unparsed (so a process pool can parse)."""
    with open(path, encoding="latin-1") as fh:
        for lineno, text in enumerate(fh, start=1):
            data = text.rstrip("\n").encode("latin-1")
            if lineno == 1:
                data = data.removeprefix(codecs.BOM_UTF8)
                if data.lstrip().startswith(b"["):
                    raise IngestError(f"{source}: a JSON array; expected JSON Lines (one object per line)")
            if data and not data.isspace():
                yield lineno, data


def json_line(data: bytes, source: str, lineno: int) -> SourceRow:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raw = data.decode("utf-8", "backslashreplace")
        detail = f"byte 0x{data[exc.start]:02x} at byte {exc.start + 1} of the line is not UTF-8"
        return SourceRow(source, lineno, "jsonl", None, raw, Problem("invalid_utf8", RECORD, detail))
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        detail = f"{exc.msg} at column {exc.colno}"
        return SourceRow(source, lineno, "jsonl", None, text, Problem("invalid_json", RECORD, detail))
    if "\\u" in text and _LONE_SURROGATE.search(text) and not _is_text(obj):
        detail = "a \\u escape stands for half of a UTF-16 pair (a lone surrogate), which is not text"
        return SourceRow(source, lineno, "jsonl", None, text, Problem("invalid_utf8", RECORD, detail))
    if not isinstance(obj, dict):
        detail = f"expected a JSON object, got {type(obj).__name__}"
        return SourceRow(source, lineno, "jsonl", None, obj, Problem("wrong_type", RECORD, detail))
    return SourceRow(source, lineno, "jsonl", obj, obj)


_LONE_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")
"""Where ``json`` may decode a lone surrogate (a valid pair becomes one character): such a string
cannot be written as UTF-8, so the record is quarantined instead of failing the whole ingest."""


def _is_text(obj: object) -> bool:
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _csv_header(path: Path, source: str, sep: str) -> tuple[list[str], list[str]]:
    """Column names as pandas will see them (Latin-1) and as they are (UTF-8). Needed up front to
    read every column as text: type inference per chunk would turn ``"007"`` into ``7``."""
    with open(path, encoding="latin-1", newline="") as fh:
        header = next(csv.reader(fh, delimiter=sep), None)
    if not header:
        raise IngestError(f"{source}: no header row")
    names = [_utf8_header(name, source) for name in header]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise IngestError(f"{source}: header repeats column(s) {', '.join(repeated)}")
    return header, names


def _utf8_header(name: str, source: str) -> str:
    try:
        return name.encode("latin-1").decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        raise IngestError(f"{source}: header cell {name!r} is not valid UTF-8") from exc


def _csv_rows(path: Path, source: str, sep: str, batch_size: int) -> Iterator[SourceRow]:
    import pandas as pd

    import datasets

    header, names = _csv_header(path, source, sep)
    features = datasets.Features({name: datasets.Value("string") for name in header})
    # Only an empty cell is missing: "NA", "null" or "None" are kept as the text they are.
    ds = _load_local(
        "csv", path, encoding="latin-1", sep=sep, features=features,
        keep_default_na=False, na_values=[""],
    )
    row = 0
    try:
        for batch in ds.iter(batch_size=batch_size):
            for values in zip(*(batch[name] for name in header), strict=True):
                row += 1
                yield _csv_row(source, row, names, values)
    except (pd.errors.ParserError, ValueError) as exc:
        raise IngestError(f"{source}: not readable as CSV after data row {row}: {exc}") from exc


def _csv_row(source: str, row: int, names: list[str], values: tuple[str | None, ...]) -> SourceRow:
    record: dict[str, Any] = {}
    problem = None
    for name, value in zip(names, values, strict=True):
        if value is None:
            record[name] = None
            continue
        data = value.encode("latin-1")
        try:
            record[name] = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            record[name] = data.decode("utf-8", "backslashreplace")
            detail = f"byte 0x{data[exc.start]:02x} at byte {exc.start + 1} of the cell is not UTF-8"
            problem = problem or Problem("invalid_utf8", name, detail)
    if problem:
        return SourceRow(source, row, "csv", None, record, problem)
    return SourceRow(source, row, "csv", record, record)


def _hub_rows(name: str, batch_size: int) -> Iterator[SourceRow]:
    """A dataset on the Hugging Face hub, ``owner/name`` or ``owner/name:split`` (default train)."""
    import datasets

    repo, _, split = name.partition(":")
    try:
        ds = datasets.load_dataset(repo, split=split or "train", streaming=True)
    except Exception as exc:  # the hub raises many types; all mean "cannot load this name"
        raise IngestError(f"{name}: not a local file and not loadable from the hub: {exc}") from exc
    yield from _table_rows(ds, name, "hub", batch_size)


def _table_rows(
    ds: datasets.IterableDataset, source: str, kind: SourceKind, batch_size: int
) -> Iterator[SourceRow]:
    row = 0
    for batch in ds.iter(batch_size=batch_size):
        columns = list(batch)
        for values in zip(*batch.values(), strict=True):
            row += 1
            record = {col: _plain(value) for col, value in zip(columns, values, strict=True)}
            yield SourceRow(source, row, kind, record, record)


def _plain(value: Any) -> Any:
    """Arrow timestamps arrive as ``datetime``; our records keep times as ISO 8601 strings."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value
