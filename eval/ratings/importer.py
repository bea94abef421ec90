"""Reviewer files (JSONL or CSV) in, unblinded ``ratings.jsonl`` out.

Every row read is either kept or rejected with its file, line, field and reason; a
rejected row is never repaired or guessed. The same (rating_id, reviewer) twice: an exact
repeat keeps the first copy and rejects the rest (``duplicate``); copies that disagree are
all rejected (``conflicting_duplicate``), since we cannot know which one the reviewer meant.
Anonymous ratings (``reviewer: null``) have no identity to repeat, so they are never merged.
Scores may be absent together (a preference-only comparison, which then needs its preference).

Clean JSONL files are read column-wise by pyarrow (a million rows in seconds); a file with
anything the fast reader does not accept (bad JSON, wrong types, out-of-range values) is
read row by row through the pydantic records instead, which names every bad line. Both
paths feed the same table, so they accept exactly the same rows.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

from eval.columnar import BLOCK_SIZE, column_blocks, sorted_categorical
from eval.errors import MissingInput
from eval.ratings.labelstudio import read_labelstudio_export
from eval.ratings.rows import read_rows
from eval.records import BlindKey, Quarantined, Rating, UnblindedRating
from eval.store import RecordError, atomic_writer, read_jsonl, write_jsonl

RejectReason = Literal[
    "invalid_json", "not_an_object", "missing_field", "score_out_of_range", "bad_preference",
    "invalid_value", "unknown_rating_id", "unknown_item", "duplicate", "conflicting_duplicate",
]
BOOL_FIELDS = ("acceptable_x", "acceptable_y", "critical_x", "critical_y")
RATING_FIELDS = tuple(Rating.model_fields)
COLUMNS = tuple(UnblindedRating.model_fields)
PREFERENCES = ("x", "y", "tie_good", "tie_bad")
_ARROW = {str: pa.string(), int: pa.int64(), bool: pa.bool_(), float: pa.float64()}


def _schema(fields: dict[str, type]) -> pa.Schema:
    return pa.schema([(name, _ARROW[kind]) for name, kind in fields.items()])


RATING_SCHEMA = _schema({"rating_id": str, "reviewer": str, "score_x": int, "score_y": int, "preference": str,
                         **dict.fromkeys(BOOL_FIELDS, bool), "comment": str, "seconds": float})
KEY_SCHEMA = _schema({"rating_id": str, "item_id": str, "x": str, "y": str, "gold": bool})
ITEM_SCHEMA = _schema({"item_id": str, "ticket_id": str, "category": str})
OUT_SCHEMA = _schema({**dict.fromkeys(("rating_id", "item_id", "ticket_id", "category", "reviewer"), str),
                      "score_ai": int, "score_human": int, "preference": str,
                      **dict.fromkeys(("acceptable_ai", "acceptable_human", "critical_ai", "critical_human",
                                       "gold"), bool), "seconds": float, "comment": str})


class ImportSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    files: list[str]
    out_path: str
    rejections_path: str
    read: int
    kept: int
    rejected: int
    by_reason: dict[str, int]
    per_file: dict[str, dict[str, int]]
    rejections: list[Quarantined]

    def text(self) -> str:
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(self.by_reason.items())) or "none"
        return f"{self.read} ratings read, {self.kept} kept, {self.rejected} rejected ({reasons})"


class _ItemRef(BaseModel):
    """The part of an Item the ratings need; the rest of the line is parsed but not validated."""

    model_config = ConfigDict(extra="ignore")
    item_id: str
    ticket_id: str
    category: str


def _arrow_jsonl(path: Path, schema: pa.Schema, required: Sequence[str]) -> tuple[pa.Table, np.ndarray] | None:
    """The file as a table plus each row's line number, or None if any row needs the slow path."""
    data = path.read_bytes()
    try:
        table = pj.read_json(io.BytesIO(data), parse_options=pj.ParseOptions(
            explicit_schema=schema, unexpected_field_behavior="ignore"))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if any(table[name].null_count for name in required):
        return None
    if data.count(b"\n") + (not data.endswith(b"\n")) == table.num_rows:  # no blank lines
        return table, np.arange(1, table.num_rows + 1)
    lines = np.array([i for i, line in enumerate(data.split(b"\n"), start=1) if line.strip()], dtype=np.int64)
    return (table, lines) if len(lines) == table.num_rows else None


def _values_ok(table: pa.Table, ranges: dict[str, tuple[int, int]], allowed: dict[str, Sequence[str]]) -> bool:
    for name, (low, high) in ranges.items():
        bounds = pc.min_max(table[name]).as_py()  # nulls skipped; None when there is no value at all
        if bounds["min"] is not None and (bounds["min"] < low or bounds["max"] > high):
            return False
    for name, values in allowed.items():
        col = table[name]
        if (pc.sum(pc.is_in(col, value_set=pa.array(values))).as_py() or 0) != len(col) - col.null_count:
            return False
    return True


def _comparable(table: pa.Table, first: str, second: str) -> bool:
    """Every row has both scores or neither, and a preference where it has neither (``Rating``'s rule)."""
    a, b = pc.is_null(table[first]), pc.is_null(table[second])
    half = pc.sum(pc.xor(a, b)).as_py() or 0
    nothing = pc.sum(pc.and_(pc.and_(a, b), pc.is_null(table["preference"]))).as_py() or 0
    return half == 0 and nothing == 0


def read_item_index(path: Path, block_size: int = BLOCK_SIZE) -> pd.DataFrame:
    """item_id, ticket_id, category of every item in ``items.jsonl``, read a block at a time (the turns'
    text is never held); category as a categorical with sorted categories: ten million items take ~350 MB."""
    path = Path(path)
    blocks = column_blocks(path, ITEM_SCHEMA, ITEM_SCHEMA.names, lambda: (r.model_dump() for r in read_jsonl(path, _ItemRef)),
                           block_size)
    ids: list[pa.Array] = []
    tickets: list[pa.Array] = []
    categories = []
    for block in blocks:  # categories encoded per block: ten million copies of a few names would not fit
        ids.append(block["item_id"])
        tickets.append(block["ticket_id"])
        categories.append(pc.dictionary_encode(block["category"]))
    return pd.DataFrame({"item_id": pa.chunked_array(ids, pa.string()).to_pandas(),
                         "ticket_id": pa.chunked_array(tickets, pa.string()).to_pandas(),
                         "category": sorted_categorical(categories)})


def read_key(path: Path) -> pd.DataFrame:
    """The blind key as a table; a bad or ambiguous entry raises naming the file."""
    path = Path(path)
    fast = _arrow_jsonl(path, KEY_SCHEMA, ("rating_id", "item_id", "x", "y"))
    if fast is not None and _values_ok(fast[0], {}, {"x": ("ai", "human"), "y": ("ai", "human")}):
        key = fast[0].to_pandas()
        key["gold"] = key["gold"].fillna(False).astype(bool)
    else:
        entries = list(read_jsonl(path, BlindKey))
        key = pd.DataFrame([(e.rating_id, e.item_id, e.x, e.y, e.gold) for e in entries], columns=KEY_SCHEMA.names)
    same = key.index[key["x"] == key["y"]]
    if len(same):
        raise RecordError(f"{path}: entry {same[0] + 1}: field 'y': x and y are both {key['x'][same[0]]}")
    twice = key["rating_id"].duplicated()
    if twice.any():
        raise RecordError(f"{path}: field 'rating_id': {key['rating_id'][twice].iloc[0]} appears twice")
    return key


def _raw_rows(path: Path) -> Any:
    """(line number, parsed row or the JSON error) for each non-blank row of a reviewer file.

    A ``.json`` file is a Label Studio export; its "line" is the task number.
    """
    if path.suffix.lower() == ".json":
        yield from read_labelstudio_export(path)
        return
    yield from read_rows(path, BOOL_FIELDS)


def _reason(err: ErrorDetails) -> tuple[RejectReason, str]:
    field = ".".join(str(p) for p in err["loc"]) or "(record)"
    if err["type"] == "missing":
        return "missing_field", field
    if field in ("score_x", "score_y") and err["type"] in ("greater_than_equal", "less_than_equal"):
        return "score_out_of_range", field
    if field == "preference":
        return "bad_preference", field
    return "invalid_value", field


def _slow_rows(path: Path) -> tuple[pd.DataFrame, list[Quarantined]]:
    """Row by row through the Rating record: every bad line is named."""
    source, good, bad = str(path), [], []
    for line, raw in _raw_rows(path):
        if isinstance(raw, json.JSONDecodeError):
            bad.append(Quarantined(source=source, line=line, field="(record)", reason="invalid_json",
                                   detail=str(raw)))
            continue
        if not isinstance(raw, dict):
            bad.append(Quarantined(source=source, line=line, field="(record)", reason="not_an_object",
                                   detail=type(raw).__name__, raw=raw))
            continue
        try:
            rating = Rating.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            reason, field = _reason(err)
            bad.append(Quarantined(source=source, line=line, field=field, reason=reason,
                                   detail=f"{err['msg']} (got {err.get('input')!r})", raw=raw))
            continue
        good.append((line, *(getattr(rating, f) for f in RATING_FIELDS)))
    return pd.DataFrame(good, columns=["line", *RATING_FIELDS]), bad


def _read_reviewer_file(path: Path) -> tuple[pd.DataFrame, list[Quarantined]]:
    """The file's ratings; a null reviewer takes the row-by-row path, which tells an anonymous rater
    (``"reviewer": null``) from a row that forgot the field. Scores are nullable integers (preference-only
    rows have none), so both paths write the same bytes."""
    fast = None if path.suffix.lower() in (".csv", ".json") else _arrow_jsonl(path, RATING_SCHEMA, ("rating_id", "reviewer"))
    bad: list[Quarantined] = []
    if (fast is not None and _values_ok(fast[0], {"score_x": (1, 5), "score_y": (1, 5)}, {"preference": PREFERENCES})
            and _comparable(fast[0], "score_x", "score_y")):
        table = fast[0].to_pandas()
        table.insert(0, "line", fast[1])
    else:
        table, bad = _slow_rows(path)
    table[["score_x", "score_y"]] = table[["score_x", "score_y"]].astype("Int64")
    return table, bad


def _flip(x_is_ai: np.ndarray, x: pd.Series, y: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(ai value, human value) from the x/y columns through the key."""
    xs, ys = x.to_numpy(dtype=object), y.to_numpy(dtype=object)
    return np.where(x_is_ai, xs, ys), np.where(x_is_ai, ys, xs)


def _unblind(rows: pd.DataFrame) -> pd.DataFrame:
    x_is_ai = (rows["x"] == "ai").to_numpy()
    out = rows[["rating_id", "item_id", "ticket_id", "category", "reviewer"]].copy()
    for what in ("score", "acceptable", "critical"):
        out[f"{what}_ai"], out[f"{what}_human"] = _flip(x_is_ai, rows[f"{what}_x"], rows[f"{what}_y"])
    pref = rows["preference"].to_numpy(dtype=object)
    side = {"x": np.where(x_is_ai, "ai", "human"), "y": np.where(x_is_ai, "human", "ai")}
    out["preference"] = np.select([pref == "x", pref == "y"], [side["x"], side["y"]], pref)
    out["gold"], out["seconds"], out["comment"] = rows["gold"].to_numpy(), rows["seconds"], rows["comment"]
    return out[list(COLUMNS)]


def _rejections(rows: pd.DataFrame, mask: np.ndarray, field: str, reason: str, detail: pd.Series) -> list[Quarantined]:
    picked = rows[mask]
    raws = picked[list(RATING_FIELDS)].astype(object).where(picked[list(RATING_FIELDS)].notna(), None)
    return [Quarantined(source=src, line=int(line), field=field, reason=reason, detail=str(d), raw=raw)
            for src, line, d, raw in zip(picked["source"], picked["line"], detail[mask], raws.to_dict("records"))]


def _rater(rows: pd.DataFrame) -> pd.Series:
    """Who gave each rating, for the duplicate rule: the reviewer, or for an anonymous rating its own file
    and line. Anonymous ratings of one packet may come from different people, so only the same line read
    twice (a file passed twice) repeats one."""
    anonymous = rows["reviewer"].isna()
    return rows["reviewer"].where(~anonymous, "\0" + rows["source"] + ":" + rows["line"].astype(str))


def _match(rows: pd.DataFrame, key: pd.DataFrame, items: pd.DataFrame) -> tuple[pd.DataFrame, list[Quarantined]]:
    """Join ratings to the key and the items; drop unknown ids and duplicates, saying why."""
    rows = rows.merge(key, on="rating_id", how="left")
    rows = rows.merge(items[items["item_id"].isin(rows["item_id"])], on="item_id", how="left")  # rated items only
    unknown = rows["x"].isna().to_numpy()
    bad = _rejections(rows, unknown, "rating_id", "unknown_rating_id", rows["rating_id"] + " is not in the key")
    no_item = ~unknown & rows["category"].isna().to_numpy()
    bad += _rejections(rows, no_item, "rating_id", "unknown_item", "item " + rows["item_id"] + " is not in items.jsonl")
    rows = rows[~unknown & ~no_item]
    content = pd.util.hash_pandas_object(rows[list(RATING_FIELDS)].astype(str), index=False)
    rows = rows.assign(rater=_rater(rows))
    pair = [rows["rating_id"], rows["rater"]]
    repeated = rows.duplicated(["rating_id", "rater"], keep=False).to_numpy()
    conflict = repeated & (content.groupby(pair).transform("nunique") > 1).to_numpy()
    later = rows.duplicated(["rating_id", "rater"], keep="first").to_numpy() & ~conflict
    where = ("(" + rows["rating_id"] + ", " + rows["reviewer"].fillna("anonymous") + ") rated more than once")
    bad += _rejections(rows, conflict, "rating_id", "conflicting_duplicate", where + " with different answers")
    bad += _rejections(rows, later, "rating_id", "duplicate", where + ": first copy kept")
    return rows[~conflict & ~later], bad


def import_ratings(files: Sequence[Path], key_path: Path, items_path: Path, out_path: Path) -> ImportSummary:
    """Unblind reviewer files into ``out_path``; rejected rows go to ``<out stem>.rejected.jsonl``.

    ``out_path`` is rewritten from ``files`` alone, so pass every reviewer file of the round.
    """
    key, items = read_key(Path(key_path)), read_item_index(Path(items_path))
    tables, rejected, read = [], [], {}
    for path in map(Path, files):
        if not path.exists():
            raise MissingInput(f"{path}: ratings file not found")
        table, bad = _read_reviewer_file(path)
        table.insert(0, "source", str(path))
        tables.append(table)
        rejected += bad
        read[str(path)] = len(table) + len(bad)
    rows = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=["source", "line", *RATING_FIELDS])
    kept, bad = _match(rows, key, items)
    rejected = sorted(rejected + bad, key=lambda q: (list(read).index(q.source), q.line))
    out_path = Path(out_path)
    rejections_path = out_path.with_name(out_path.stem + ".rejected.jsonl")
    write_rating_table(out_path, _unblind(kept))
    write_jsonl(rejections_path, rejected)
    per_file = {src: {"read": n, "rejected": sum(q.source == src for q in rejected)} for src, n in read.items()}
    for counts in per_file.values():
        counts["kept"] = counts["read"] - counts["rejected"]
    by_reason: dict[str, int] = {}
    for q in rejected:
        by_reason[q.reason] = by_reason.get(q.reason, 0) + 1
    return ImportSummary(
        files=[str(f) for f in files], out_path=str(out_path), rejections_path=str(rejections_path),
        read=sum(read.values()), kept=len(kept), rejected=len(rejected), by_reason=by_reason,
        per_file=per_file, rejections=rejected,
    )


def write_rating_table(path: Path, table: pd.DataFrame) -> None:
    """``ratings.jsonl`` from an unblinded table: one JSON object per line, null for missing.

    Private (0600) like the key: unblinded rows say which answer was the AI's.
    """
    text = table.to_json(orient="records", force_ascii=False) if len(table) else "[]"
    # pandas' own ``lines=True`` splits records in Python (seconds per million rows). Splitting
    # the array at '},{"rating_id":' is safe: inside a JSON string every '"' is escaped.
    body = text[1:-1].replace('},{"rating_id":', '}\n{"rating_id":')
    with atomic_writer(path, private=True) as fh:
        fh.write(body + "\n" if body else "")


def read_ratings(path: Path) -> pd.DataFrame:
    """``ratings.jsonl`` as a table (one row per rating); a bad line raises with file, line, field.
    A run with no ratings yet has no file: an empty table, so decide can say what is missing."""
    path = Path(path)
    if not path.exists():
        return pd.DataFrame(columns=list(COLUMNS))
    required = ("rating_id", "item_id", "ticket_id", "category", "reviewer")
    fast = _arrow_jsonl(path, OUT_SCHEMA, required)
    if (fast is not None and _values_ok(fast[0], {"score_ai": (1, 5), "score_human": (1, 5)},
                                        {"preference": ("ai", "human", "tie_good", "tie_bad")})
            and _comparable(fast[0], "score_ai", "score_human")):
        table = fast[0].to_pandas()
        table["gold"] = table["gold"].fillna(False).astype(bool)
        return table[list(COLUMNS)]
    rows = [tuple(getattr(r, c) for c in COLUMNS) for r in read_jsonl(path, UnblindedRating)]
    return pd.DataFrame(rows, columns=list(COLUMNS))
