"""Another system's judge verdicts (``judge: {kind: precomputed, path: FILE}``) in, ``judge.jsonl`` out.

Read with the discipline of the ratings: every row is kept or rejected with its file, line,
field and reason, never repaired. A judge gives one verdict per item, so the same item twice is
a repeat or a conflict: an exact repeat keeps the first copy and rejects the rest
(``duplicate``); copies that disagree are all rejected (``conflicting_duplicate``), since we
cannot know which verdict the judge meant.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_validator

from eval.errors import MissingInput
from eval.judges.pairwise import Pick
from eval.ratings.importer import read_item_index
from eval.ratings.rows import read_rows
from eval.records import Quarantined, Record
from eval.store import write_jsonl

RejectReason = Literal[
    "invalid_json", "not_an_object", "missing_field", "invalid_value", "bad_preference", "score_out_of_range",
    "unknown_item", "duplicate", "conflicting_duplicate",
]


class JudgeVerdict(Record):
    """One item's verdict as another system writes it (DESIGN.md Judge verdict)."""

    item_id: str = Field(min_length=1)
    preference: Pick
    score_ai: float | None = Field(default=None, ge=1, le=5, allow_inf_nan=False)
    score_human: float | None = Field(default=None, ge=1, le=5, allow_inf_nan=False)
    critical_ai: StrictBool | None = None
    judge: str = Field(min_length=1)

    @field_validator("score_ai", "score_human", mode="before")
    @classmethod
    def _not_bool(cls, v: Any) -> Any:
        """``true`` is not a score (pydantic would read it as 1)."""
        if isinstance(v, bool):
            raise ValueError("a score is a number, not a boolean")
        return v


class ImportedVerdict(JudgeVerdict):
    """A kept verdict (``judge.jsonl``): with its item's category and the file and line it came from."""

    category: str
    source_file: str
    line: int

    @property
    def flipped(self) -> bool | None:
        """Unknown: we do not see whether another system's verdict depends on the order of the answers."""
        return None


class JudgeImportSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file: str
    out_path: str
    rejections_path: str
    read: int
    kept: int
    rejected: int
    by_reason: dict[str, int]
    preferences: dict[str, int]
    """Kept verdicts per preference (ai, human, tie)."""
    items: int
    """Items of the run; those without a kept verdict are ``items - kept``."""
    judges: list[str]

    def text(self) -> str:
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(self.by_reason.items())) or "none"
        prefs = ", ".join(f"{k}: {v}" for k, v in self.preferences.items())
        return (f"{self.read} judge verdicts read, {self.kept} kept ({prefs}), {self.rejected} rejected ({reasons}); "
                f"{self.items - self.kept} of {self.items} items without a verdict; judge: {', '.join(self.judges)}")


def _field_reason(exc: ValidationError) -> tuple[str, RejectReason, str]:
    err = exc.errors(include_url=False)[0]
    field = ".".join(str(p) for p in err["loc"]) or "(record)"
    detail = f"{err['msg']} (got {err.get('input')!r})"
    if err["type"] == "missing":
        return field, "missing_field", detail
    if field == "preference":
        return field, "bad_preference", detail
    if field.startswith("score_") and err["type"] in ("greater_than_equal", "less_than_equal"):
        return field, "score_out_of_range", detail
    return field, "invalid_value", detail


def _parsed(source: str, line: int, raw: Any, categories: dict[str, str]) -> ImportedVerdict | Quarantined:
    """One row as a verdict on a known item, or why not."""
    def rejected(field: str, reason: RejectReason, detail: str) -> Quarantined:
        return Quarantined(source=source, line=line, field=field, reason=reason, detail=detail,
                           raw=None if isinstance(raw, json.JSONDecodeError) else raw)
    if isinstance(raw, json.JSONDecodeError):
        return rejected("(record)", "invalid_json", str(raw))
    if not isinstance(raw, dict):
        return rejected("(record)", "not_an_object", type(raw).__name__)
    try:
        verdict = JudgeVerdict.model_validate(raw)
    except ValidationError as exc:
        return rejected(*_field_reason(exc))
    if verdict.item_id not in categories:
        return rejected("item_id", "unknown_item", f"{verdict.item_id} is not an item in items.jsonl")
    return ImportedVerdict.model_validate({**verdict.model_dump(), "category": categories[verdict.item_id],
                                           "source_file": source, "line": line})


def _deduplicated(rows: list[ImportedVerdict]) -> tuple[list[ImportedVerdict], list[Quarantined]]:
    """One verdict per item: exact repeats of the first kept as one, disagreeing copies all rejected."""
    contents: dict[str, set[str]] = {}
    for v in rows:
        contents.setdefault(v.item_id, set()).add(v.model_dump_json(exclude={"source_file", "line"}))
    kept: dict[str, ImportedVerdict] = {}
    bad = []
    for v in rows:
        if len(contents[v.item_id]) > 1:
            reason, detail = "conflicting_duplicate", f"{v.item_id} has verdicts that disagree: all rejected"
        elif v.item_id in kept:
            reason, detail = "duplicate", f"{v.item_id} repeats line {kept[v.item_id].line}: first copy kept"
        else:
            kept[v.item_id] = v
            continue
        bad.append(Quarantined(source=v.source_file, line=v.line, field="item_id", reason=reason, detail=detail,
                               raw=v.model_dump(exclude={"source_file", "line", "category"})))
    return list(kept.values()), bad


def import_judge(path: Path, items_path: Path, out_path: Path, rejections_path: Path) -> JudgeImportSummary:
    """A verdicts file (JSONL, or CSV with the same columns) into ``out_path``, rejected rows into ``rejections_path``."""
    path = Path(path)
    if not path.exists():
        raise MissingInput(f"{path}: judge verdicts file not found", file=path)
    index = read_item_index(Path(items_path))
    categories = dict(zip(index["item_id"].tolist(), index["category"].tolist()))
    parsed = [_parsed(str(path), line, raw, categories) for line, raw in read_rows(path, ("critical_ai",))]
    kept, duplicates = _deduplicated([p for p in parsed if isinstance(p, ImportedVerdict)])
    rejected = sorted([p for p in parsed if isinstance(p, Quarantined)] + duplicates, key=lambda q: q.line)
    write_jsonl(Path(out_path), kept)
    write_jsonl(Path(rejections_path), rejected)
    by_reason: dict[str, int] = {}
    for q in rejected:
        by_reason[q.reason] = by_reason.get(q.reason, 0) + 1
    preferences = {p: sum(v.preference == p for v in kept) for p in ("ai", "human", "tie")}
    return JudgeImportSummary(
        file=str(path), out_path=str(out_path), rejections_path=str(rejections_path), read=len(parsed),
        kept=len(kept), rejected=len(rejected), by_reason=by_reason, preferences=preferences, items=len(categories),
        judges=sorted({v.judge for v in kept}),
    )
