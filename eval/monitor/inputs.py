"""Live reviews and assist logs in, with the import discipline, accumulated across monitor runs.

Every row is kept or rejected with its file, line, field and reason. What was kept is stored in the
run folder (``live_reviews.jsonl``, ``assist_logs.jsonl``), and a later run reads it back before the
new files: re-sending a file adds nothing (its rows are already imported), and the tests run over
everything kept so far in time order, so monitoring twice on split files gives what one run over
all of them gives. A row whose id was kept before with other content is rejected, and the kept one
stays: the monitor already acted on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from eval.config import ReviewFile
from eval.errors import MissingInput
from eval.ratings.reviews import ReviewRow, read_keys, review_rows, to_five
from eval.ratings.rows import read_rows
from eval.records import AssistLog, LiveReview, Quarantined
from eval.store import read_jsonl


@dataclass
class Imported:
    """What one monitor run read: kept (old and new, in time order), newly rejected, counts."""

    kept: list
    rejected: list[Quarantined] = field(default_factory=list)
    read: int = 0
    new: int = 0
    already: int = 0


def _live(row: ReviewRow) -> LiveReview:
    review = row.review
    assert review.ticket_id is not None and review.turn_index is not None and review.category is not None
    assert review.reviewed_at is not None  # the parser rejects live reviews without these
    score = None if review.score is None or row.scale == "pass_fail" else to_five(review.score, row.scale)
    return LiveReview(review_id=review.review_id, ticket_id=review.ticket_id, turn_index=review.turn_index,
                      category=review.category, source=review.source, reviewer=review.reviewer, score=score,
                      score_raw=review.score, acceptable=review.acceptable, critical=review.critical,
                      reviewed_at=review.reviewed_at, source_file=row.source, line=row.line)


def _content(record: LiveReview | AssistLog) -> str:
    return record.model_dump_json(exclude={"source_file", "line"})


def _merge(out: Imported, seen: dict[str, str], key: str, record: LiveReview | AssistLog, where: tuple[str, int],
           raw: object) -> None:
    """Keep ``record`` unless its id was kept before: same content is already imported, other content is
    rejected (the first kept stays)."""
    out.read += 1
    if key not in seen:
        seen[key] = _content(record)
        out.kept.append(record)
        out.new += 1
    elif seen[key] == _content(record):
        out.already += 1
    else:
        out.rejected.append(Quarantined(source=where[0], line=where[1], field="id", reason="conflicting_duplicate",
                                        detail=f"{key} was kept before with other content: the first stays", raw=raw))


def live_reviews(specs: Sequence[ReviewFile], kept_path: Path, audit_key: Path | None = None) -> Imported:
    """The live reviews kept so far plus those of ``specs`` (JSONL or CSV, each on its own scale). Rows of
    audit packets (the app's export, a filled packet) carry only their review_id: ``audit_key`` completes them."""
    previous = list(read_jsonl(kept_path, LiveReview)) if kept_path.exists() else []
    out = Imported(kept=list(previous))
    seen = {r.review_id: _content(r) for r in previous}
    keys = read_keys(None, audit_key)
    for spec in specs:
        for row in review_rows(spec, keys, live=True):
            if isinstance(row, Quarantined):
                out.read += 1
                out.rejected.append(row)
                continue
            live = _live(row)
            _merge(out, seen, live.review_id, live, (row.source, row.line), row.raw)
    out.kept.sort(key=lambda r: (r.reviewed_at, r.review_id))
    return out


def assist_logs(paths: Sequence[Path], kept_path: Path) -> Imported:
    """The assist logs kept so far plus those of ``paths`` (JSONL or CSV), one per (ticket, turn)."""
    previous = list(read_jsonl(kept_path, AssistLog)) if kept_path.exists() else []
    out = Imported(kept=list(previous))
    seen = {f"{r.ticket_id}#{r.turn_index}": _content(r) for r in previous}
    for path in map(Path, paths):
        if not path.exists():
            raise MissingInput(f"{path}: assist log not found", file=path)
        for line, raw in read_rows(path, ()):
            problem = _bad_row(str(path), line, raw)
            if isinstance(problem, Quarantined):
                out.read += 1
                out.rejected.append(problem)
                continue
            _merge(out, seen, f"{problem.ticket_id}#{problem.turn_index}", problem, (str(path), line), raw)
    out.kept.sort(key=lambda r: (r.sent_at or "", r.ticket_id, r.turn_index))
    return out


def _bad_row(source: str, line: int, raw: object) -> AssistLog | Quarantined:
    """The row as an assist log, or why not."""
    if isinstance(raw, Exception):
        return Quarantined(source=source, line=line, field="(record)", reason="invalid_json", detail=str(raw), raw=None)
    if not isinstance(raw, dict):
        return Quarantined(source=source, line=line, field="(record)", reason="not_an_object",
                           detail=type(raw).__name__, raw=raw)
    try:
        return AssistLog.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        name = ".".join(str(p) for p in err["loc"]) or "(record)"
        reason = "missing_field" if err["type"] == "missing" else "invalid_value"
        return Quarantined(source=source, line=line, field=name, reason=reason,
                           detail=f"{err['msg']} (got {err.get('input')!r})", raw=raw)
