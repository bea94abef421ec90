"""A run's judge verdicts, whichever judge gave them: another system's (RUN/judge.jsonl, imported
from ``judge: {kind: precomputed}``) or our pairwise judge's (RUN/judge_pairwise.jsonl).

One rule picks the source (an imported file first), so calibration and ``decide`` always read
the same verdicts. The file is read column-wise a block at a time (``eval.columnar``): ten million
verdicts are never Python objects, and ``decide`` places them on its items as they stream.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from eval.columnar import BLOCK_SIZE, column_blocks
from eval.judges.pairwise import PairwiseVerdict
from eval.judges.precomputed import ImportedVerdict
from eval.run.folder import RunFolder
from eval.store import read_jsonl

Verdict = PairwiseVerdict | ImportedVerdict
WIN = {"ai": 1.0, "tie": 0.5, "human": 0.0}
"""A verdict as the AI's win: ties count half."""
COLUMNS = ("item_id", "judge_win", "judge_score_ai", "judge_score_human", "judge_critical_ai")
OPTIONAL = ("score_ai", "score_human", "critical_ai")
"""What only another system's verdicts may carry (NaN in the table where absent)."""
_SCHEMA = pa.schema([("item_id", pa.string()), ("category", pa.string()), ("preference", pa.string()),
                     ("score_ai", pa.float64()), ("score_human", pa.float64()), ("critical_ai", pa.bool_())])
PLACED = 2_000_000
"""Verdicts placed on the items at a time: each placement hashes them and scans every item id once."""
Tally = Counter[tuple[str, str | None]]
"""Verdicts per (category, preference); preference None is a judge error."""
FLAGS = ("judge_win", "judge_critical_ai")
"""Exact in float32 (0, 0.5, 1): half the memory on ten million items."""


def verdicts_file(folder: RunFolder) -> Path | None:
    """Imported verdicts when the run has them, else the pairwise judge's; None when no judge ran."""
    return next((p for p in (folder.judge, folder.judge_pairwise) if p.exists()), None)


def read_verdicts(folder: RunFolder) -> Iterator[Verdict]:
    """Every verdict of the run as its record (none when no judge ran)."""
    path = verdicts_file(folder)
    if path is None:
        return iter(())
    return read_jsonl(path, ImportedVerdict if path == folder.judge else PairwiseVerdict)


def verdict_blocks(folder: RunFolder, block_size: int = BLOCK_SIZE) -> Iterator[pa.RecordBatch] | None:
    """The verdicts' columns (item_id, category, preference, and for another system's the scores and
    critical flag), a block of lines at a time in file order; None when no judge ran. A line the fast reader
    refuses is read through the records, which name the bad line."""
    path = verdicts_file(folder)
    if path is None:
        return None
    names = _SCHEMA.names if path == folder.judge else ["item_id", "category", "preference"]
    schema = pa.schema([_SCHEMA.field(n) for n in names])
    return column_blocks(path, schema, ("item_id", "category"),
                         lambda: (v.model_dump(include=set(names)) for v in read_verdicts(folder)), block_size,
                         {"preference": list(WIN)})


def _judge_columns(block: pa.RecordBatch | pa.Table) -> dict[str, np.ndarray]:
    """``judge_win`` (ai 1, tie 0.5, human 0; NaN for a judge error) and the optional columns as floats
    (NaN where the judge gave none)."""
    picked = pc.index_in(block["preference"], value_set=pa.array(list(WIN)))
    out = {"judge_win": pc.fill_null(pc.take(pa.array(list(WIN.values())), picked), np.nan).to_numpy()}
    for name in OPTIONAL:
        col = block[name] if name in block.schema.names else pa.nulls(block.num_rows, pa.float64())
        out[f"judge_{name}"] = pc.fill_null(pc.cast(col, pa.float64()), np.nan).to_numpy()
    return out


def judge_table(folder: RunFolder) -> pd.DataFrame | None:
    """One row per judged item, in file order: ``item_id``, ``judge_win`` (ai 1, tie 0.5, human 0; NaN
    for a judge error), ``judge_score_ai``, ``judge_score_human`` (1-5) and ``judge_critical_ai`` (1/0),
    NaN where the judge gave none. None when the run has no verdicts."""
    blocks = verdict_blocks(folder)
    if blocks is None:
        return None
    parts = [pd.DataFrame({"item_id": b["item_id"].to_pandas(), **_judge_columns(b)}) for b in blocks]
    if not parts:
        parts = [pd.DataFrame({"item_id": pd.Series(dtype=str)} | {c: pd.Series(dtype=float) for c in COLUMNS[1:]})]
    return pd.concat(parts, ignore_index=True)


@dataclass(frozen=True)
class Placed:
    """The run's verdicts on a given list of items: what ``decide`` reads of the judge."""

    table: pd.DataFrame
    """``judge_table``'s columns with one row per item, in the items' order; NaN where an item has no verdict."""
    tally: Tally


def placed_verdicts(folder: RunFolder, item_ids: pd.Series, block_size: int = BLOCK_SIZE) -> Placed | None:
    """The verdicts streamed onto ``item_ids`` (an item's first verdict where it has several; verdicts of other
    items only tallied): no table of every verdict with its item id is ever held. None when no judge ran."""
    blocks = verdict_blocks(folder, block_size)
    if blocks is None:
        return None
    ids = pa.array(item_ids, pa.large_string())
    ids = ids if isinstance(ids, pa.ChunkedArray) else pa.chunked_array([ids])
    cols = {name: np.full(len(ids), np.nan, np.float32 if name in FLAGS else float) for name in COLUMNS[1:]}
    seen, tally, start = np.zeros(len(ids), dtype=bool), Tally(), 0
    pending: list[tuple[pa.Array, dict[str, np.ndarray]]] = []
    for block in blocks:
        tally.update(_tally(block))
        pending.append((block["item_id"], _judge_columns(block)))
        if sum(len(v) for v, _ in pending) >= PLACED:
            start, pending = _place(pending, ids, start, cols, seen), []
    if pending:
        _place(pending, ids, start, cols, seen)
    table = pd.DataFrame(cols, index=item_ids.index, copy=False)
    table.insert(0, "item_id", item_ids)
    return Placed(table, tally)


def _tally(block: pa.RecordBatch) -> Tally:
    """The block's verdicts per (category, preference)."""
    cats = pc.dictionary_encode(block["category"])
    prefs = pc.fill_null(pc.index_in(block["preference"], value_set=pa.array(list(WIN))), len(WIN)).to_numpy()
    counts = np.bincount(cats.indices.to_numpy() * (len(WIN) + 1) + prefs, minlength=len(cats.dictionary) * (len(WIN) + 1))
    names = [*WIN, None]
    return Tally({(cats.dictionary[int(k) // len(names)].as_py(), names[k % len(names)]): int(counts[k])
                  for k in np.flatnonzero(counts)})


def _place(verdicts: list[tuple[pa.Array, dict[str, np.ndarray]]], ids: pa.ChunkedArray, start: int,
           cols: dict[str, np.ndarray], seen: np.ndarray) -> int:
    """``verdicts`` (item ids, judge columns) written into ``cols`` at their items' rows, an item already ``seen``
    keeping its first verdict. Verdicts in the items' order from row ``start`` (as the judge stages write them)
    are placed by position, any others by hashing their ids against every item's; returns the row after the
    last verdict's item, where the next verdicts are looked for."""
    vid = pa.chunked_array([v for v, _ in verdicts]).cast(ids.type)
    n = len(vid)
    if start + n <= len(ids) and ids.slice(start, n).equals(vid):
        where, picked = np.arange(start, start + n), np.arange(n)
    else:
        rows = pc.index_in(ids, value_set=vid)  # each item's row among the verdicts, null where it has none
        where, picked = pc.indices_nonzero(pc.is_valid(rows)).to_numpy(), pc.drop_null(rows).to_numpy()
    last = where[picked == n - 1]
    fresh = ~seen[where]
    where, picked = where[fresh], picked[fresh]
    seen[where] = True
    for name in cols:
        cols[name][where] = np.concatenate([c[name] for _, c in verdicts])[picked]
    return int(last[0]) + 1 if len(last) else start
