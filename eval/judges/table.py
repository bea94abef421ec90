"""A run's judge verdicts, whichever judge gave them: another system's (RUN/judge.jsonl, imported
from ``judge: {kind: precomputed}``) or our pairwise judge's (RUN/judge_pairwise.jsonl).

One rule picks the source (an imported file first), so calibration and ``decide`` always read
the same verdicts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.json as pj

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
_SCHEMA = pa.schema([("item_id", pa.string()), ("preference", pa.string()), ("score_ai", pa.float64()),
                     ("score_human", pa.float64()), ("critical_ai", pa.bool_())])


def verdicts_file(folder: RunFolder) -> Path | None:
    """Imported verdicts when the run has them, else the pairwise judge's; None when no judge ran."""
    return next((p for p in (folder.judge, folder.judge_pairwise) if p.exists()), None)


def read_verdicts(folder: RunFolder) -> Iterator[Verdict]:
    """Every verdict of the run as its record (none when no judge ran)."""
    path = verdicts_file(folder)
    if path is None:
        return iter(())
    return read_jsonl(path, ImportedVerdict if path == folder.judge else PairwiseVerdict)


def _columns(path: Path, folder: RunFolder) -> pa.Table:
    """The file's verdict columns, read column-wise (our own files, so millions of lines in seconds);
    a line the fast reader refuses is read through the records, which name the bad line."""
    schema = _SCHEMA if path == folder.judge else pa.schema([_SCHEMA.field("item_id"), _SCHEMA.field("preference")])
    if path.stat().st_size == 0:
        return schema.empty_table()
    try:
        return pj.read_json(path, parse_options=pj.ParseOptions(explicit_schema=schema,
                                                                 unexpected_field_behavior="ignore"))
    except pa.ArrowInvalid:
        rows = [v.model_dump(include=set(schema.names)) for v in read_verdicts(folder)]
        return pa.Table.from_pylist(rows, schema=schema)


def judge_table(folder: RunFolder) -> pd.DataFrame | None:
    """One row per judged item, in file order: ``item_id``, ``judge_win`` (ai 1, tie 0.5, human 0; NaN
    for a judge error), ``judge_score_ai``, ``judge_score_human`` (1-5) and ``judge_critical_ai`` (1/0),
    NaN where the judge gave none. None when the run has no verdicts."""
    path = verdicts_file(folder)
    if path is None:
        return None
    table = _columns(path, folder)
    out = pd.DataFrame({"item_id": table["item_id"].to_pandas(),
                        "judge_win": table["preference"].to_pandas().map(WIN).astype(float)})
    for name in OPTIONAL:
        out[f"judge_{name}"] = (table[name].cast(pa.float64()).to_pandas() if name in table.column_names
                                else np.full(len(out), np.nan))
    return out
