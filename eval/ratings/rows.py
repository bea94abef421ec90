"""Rows of a reviewer file (JSONL or CSV) as the ratings and reviews importers both read them.

Each row comes with its line number and is never repaired here: a line that is not JSON is
handed on as its error, so the importer can reject it with the file and line.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any


def csv_cell(value: str | None, boolean: bool = False) -> Any:
    """CSV cells are text: an empty cell is a missing value; a boolean accepts true/false/1/0 in any case.
    Numbers stay text for the record to parse, so a bad one is named by the record's own error."""
    if value is None or value.strip() == "":
        return None
    if boolean and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    return value


def read_rows(path: Path, booleans: Collection[str]) -> Iterator[tuple[int, Any]]:
    """(line number, row) of each non-blank row: a dict, another JSON value, or the JSON error.

    A ``.csv`` row's line is the line it ends on (a quoted cell may span lines); ``booleans``
    are the CSV columns read as booleans.
    """
    if path.suffix.lower() == ".csv":
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            for row in reader:
                yield reader.line_num, {k: csv_cell(v, k in booleans) for k, v in row.items() if k is not None}
        return
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    yield lineno, json.loads(line)
                except json.JSONDecodeError as exc:
                    yield lineno, exc
