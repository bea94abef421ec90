"""QA scorecard exports read through a column mapping (config ``reviews.columns``).

QA tools export one row per reviewed conversation with a column per scorecard category. The
mapping names the column of each Review field; critical categories listed under ``critical``
make the answer critical when any of them failed. Only the cells are translated here: the
Review record still judges every value, so a bad cell is rejected like any other.
"""

from __future__ import annotations

from typing import Any, Literal

from eval.config import ReviewColumns

FAILED = ("0", "fail", "failed", "false", "no")
PASSED = ("pass", "passed", "true", "yes")
NOT_RATED = ("n/a", "na")
RENAMED = ("review_id", "item_id", "reviewer", "score", "acceptable", "reviewed_at", "comment")


class CellError(ValueError):
    """A mapped column missing from the row, or a critical category that is neither passed nor failed."""

    def __init__(self, field: str, reason: Literal["missing_field", "invalid_value"], detail: str) -> None:
        super().__init__(detail)
        self.field, self.reason, self.detail = field, reason, detail


def boolean_columns(columns: ReviewColumns | None) -> set[str]:
    """The file's columns holding ``acceptable`` and ``critical`` (read as booleans in a CSV)."""
    acceptable = columns.acceptable if columns and columns.acceptable else "acceptable"
    critical = columns.critical if columns and isinstance(columns.critical, str) else "critical"
    return {acceptable, critical}


def _cell(row: dict[str, Any], column: str, field: str) -> Any:
    if column not in row:
        raise CellError(field, "missing_field", f"column {column!r} (reviews.columns.{field}) is not in the file")
    return row[column]


def _failed(value: Any, column: str) -> bool | None:
    """True for a failed category, False for a passed one, None when it was not rated."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", *NOT_RATED)):
        return None
    if isinstance(value, bool):
        return not value
    text = str(value).strip().lower()
    if text in FAILED or text in PASSED:
        return text in FAILED
    try:
        number = float(text)
    except ValueError:
        number = -1.0
    if number >= 0:
        return number == 0
    raise CellError("critical", "invalid_value", f"column {column!r}: {value!r} is neither a pass nor a fail")


def mapped_row(row: dict[str, Any], columns: ReviewColumns | None) -> dict[str, Any]:
    """The row under Review field names: mapped columns renamed, ``critical`` from the critical
    categories (any failed: True; all passed: False; none rated: None), answer and source set."""
    if columns is None:
        return row
    out = dict(row)
    for field in RENAMED:
        column = getattr(columns, field)
        if column is not None:
            out[field] = _cell(row, column, field)
    if isinstance(columns.critical, str):
        out["critical"] = _cell(row, columns.critical, "critical")
    elif columns.critical is not None:
        verdicts = [_failed(_cell(row, c, "critical"), c) for c in columns.critical]
        out["critical"] = True if True in verdicts else False if False in verdicts else None
    for field in ("answer", "source"):
        if getattr(columns, field) is not None:
            out[field] = getattr(columns, field)
    return out
