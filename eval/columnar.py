"""JSONL files read column-wise by pyarrow a block at a time: ten million lines without holding the
file or a Python object per line, in memory bounded by the block size and the columns asked for.

``lines_at`` picks a few lines of such a file by their position among its non-blank lines (as the
column reader numbers rows), finding line ends with numpy rather than a Python loop over every line.

A line the fast reader refuses (bad JSON, a wrong type, a required field missing) sends the rest of
the file through the caller's records, which accept exactly the valid lines and name a bad one by its
file, line and field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

SCAN_SIZE = 32 << 20
"""Bytes searched for line ends at a time by ``lines_at``."""
BLOCK_SIZE = 4 << 20
"""Bytes parsed at a time (larger blocks parse no faster and peak higher); a line longer than this goes
through the records."""


def column_blocks(path: Path, schema: pa.Schema, required: Sequence[str], records: Callable[[], Iterable[dict[str, Any]]],
                  block_size: int = BLOCK_SIZE, allowed: Mapping[str, Sequence[str]] | None = None,
                  ) -> Iterator[pa.RecordBatch]:
    """The ``schema`` columns of every non-blank line of ``path`` (other fields ignored), in file order.

    ``required`` columns may not be missing, and a column of ``allowed`` holds only those values (or none).
    ``records()``: the file's lines as dicts of the schema's fields through its record model, which raises
    naming the bad line; taken from the first line of the block the fast reader refused."""
    done = 0
    try:
        if Path(path).stat().st_size == 0:
            return
        options = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
        for batch in pj.open_json(path, read_options=pj.ReadOptions(block_size=block_size), parse_options=options):
            if any(batch.column(name).null_count for name in required) or not _allowed(batch, allowed or {}):
                raise pa.ArrowInvalid(f"a line lacks one of {list(required)} or has a value not allowed")
            done += batch.num_rows
            yield batch
        pa.default_memory_pool().release_unused()  # the parse buffers, which the allocator would keep
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        rest = list(islice(records(), done, None))
        yield pa.RecordBatch.from_pylist(rest, schema=schema)


def _allowed(batch: pa.RecordBatch, allowed: Mapping[str, Sequence[str]]) -> bool:
    return all((pc.sum(pc.is_in(batch.column(name), value_set=pa.array(values))).as_py() or 0)
               == batch.num_rows - batch.column(name).null_count for name, values in allowed.items())


def sorted_categorical(chunks: Sequence[pa.Array]) -> pd.Categorical:
    """Dictionary-encoded strings (``pc.dictionary_encode`` of each block, no nulls) as a pandas categorical
    with sorted categories, as ``astype("category")`` makes it: a byte an item for a few distinct values."""
    column = pa.chunked_array(chunks, pa.dictionary(pa.int32(), pa.string())).unify_dictionaries()
    words = column.chunk(0).dictionary if column.num_chunks else pa.array([], pa.string())
    order = pc.sort_indices(words).to_numpy()
    rank = np.empty(len(order), dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    codes = rank[np.concatenate([c.indices.to_numpy() for c in column.chunks] or [np.zeros(0, np.int32)])]
    return pd.Categorical.from_codes(codes, categories=pd.Index(words.take(order).to_pandas()))


def lines_at(path: Path, rows: np.ndarray, scan_size: int = SCAN_SIZE) -> Iterator[tuple[int, bytes]]:
    """(line number, line without its end) of the non-blank lines of ``path`` at the sorted 0-based
    positions ``rows``."""
    rows = np.asarray(rows, dtype=np.int64)
    seen = lineno = done = 0  # non-blank lines and lines before ``data``; rows[done:] are still to find
    carry, chunk = b"", b"."
    with open(path, "rb") as fh:
        while done < len(rows) and chunk:
            chunk = fh.read(scan_size)
            data = carry + (chunk or b"\n")  # at the end, the last line may lack its line end
            ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
            starts = np.concatenate([[0], ends[:-1] + 1])[:len(ends)]
            blank = _blank(data, starts, ends)
            position = seen + np.cumsum(~blank) - 1  # each line's position among the non-blank lines
            for i in np.flatnonzero(~blank & np.isin(position, rows[done:])):
                done += 1
                yield lineno + int(i) + 1, data[starts[i]:ends[i]]
            seen, lineno = seen + int((~blank).sum()), lineno + len(ends)
            carry = data[ends[-1] + 1:] if len(ends) else data


def _blank(data: bytes, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Which lines are blank, checked in Python only where a line does not open with ``{`` (a record's)."""
    first = np.frombuffer(data, dtype=np.uint8)[np.minimum(starts, max(len(data) - 1, 0))]
    blank = np.zeros(len(starts), dtype=bool)
    for i in np.flatnonzero((first != ord("{")) | (starts == ends)):
        blank[i] = not data[starts[i]:ends[i]].strip()
    return blank
