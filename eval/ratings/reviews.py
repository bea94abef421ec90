"""Single-answer review files (JSONL or CSV) in, ``reviews.jsonl`` out (DESIGN.md Review).

Read with the discipline of the ratings: every row is kept or rejected with its file, line,
field and reason, never repaired. The same review_id twice: an exact repeat keeps the first copy
and rejects the rest (``duplicate``); copies that disagree are all rejected
(``conflicting_duplicate``), since we cannot know which one was meant. A named reviewer
reviewing the same answer (item and side) twice under other review ids: the first is kept, the
later ones are ``duplicate`` (one reviewer's repeated opinion is not new evidence). Anonymous
reviews (no reviewer) cannot be told apart that way and are all kept.

Scores are on the file's scale, ``[min, max]`` (0-100 for percentages), mapped linearly to 1-5
as ``1 + 4 * (raw - min) / (max - min)`` and kept beside the original; a ``pass_fail`` file
holds no scores, only ``acceptable`` (and ``critical``).

A review whose item_id is not an item but a ticket id reviews the whole conversation (a QA
scorecard). It is taken as a review of the ticket's last item (the last agent turn in
items.jsonl order): the conversation as the customer left it is judged by its last answer, and
one review stays one answer, instead of being copied onto every turn as if each had been
reviewed. How many reviews were read that way is in the summary (``from_ticket``).

Reviews of single-answer packets (the app's export, a filled packet, a Label Studio ``.json``
export) carry only their review_id: the review key (RUN/review_key.jsonl) names the item and
the answer they reviewed, as the blind key unblinds paired ratings.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

from eval.config import ReviewFile
from eval.errors import MissingInput
from eval.ratings.importer import read_item_index
from eval.ratings.labelstudio import read_labelstudio_export
from eval.ratings.rows import read_rows
from eval.ratings.scorecard import CellError, boolean_columns, mapped_row
from eval.ratings.single import KEYED, AuditKey, ReviewKey
from eval.records import Quarantined, Review, ReviewScale, UnblindedReview
from eval.store import read_jsonl, write_jsonl

RejectReason = Literal[
    "invalid_json", "not_an_object", "missing_field", "invalid_value", "bad_answer", "bad_source",
    "score_out_of_range", "non_finite", "live_answer", "not_live", "unknown_item", "duplicate", "conflicting_duplicate",
]
COLUMNS = ("review_id", "item_id", "ticket_id", "category", "side", "answer", "source", "reviewer", "score",
           "acceptable", "critical")
"""The columns of ``read_reviews`` (what decide reads)."""
Keys = Mapping[str, ReviewKey | AuditKey]
"""review_id → the key entry naming what it reviewed (review key and audit key)."""
KINDS = ("replayed-ai", "historical-human", "historical-ai")
"""answer-source pairs always counted in the summary, even at zero."""


class ReviewsSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    files: list[str]
    out_path: str
    rejections_path: str
    read: int
    kept: int
    rejected: int
    by_reason: dict[str, int]
    by_kind: dict[str, int]
    """Kept reviews per ``answer-source``, e.g. replayed-ai, historical-human (human-handled), historical-ai (bot-handled)."""
    per_file: dict[str, dict[str, int]]
    from_ticket: int
    """Kept reviews whose item_id was a ticket id (a conversation), read as its last item."""
    rejections: list[Quarantined]

    def text(self) -> str:
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(self.by_reason.items())) or "none"
        order = [*KINDS, *sorted(self.by_kind.keys() - set(KINDS))]  # also when read back from the (sorted) manifest
        kinds = ", ".join(f"{k}: {self.by_kind.get(k, 0)}" for k in order)
        tickets = f"; {self.from_ticket} conversation reviews read as their last turn" if self.from_ticket else ""
        return f"{self.read} reviews read, {self.kept} kept ({kinds}), {self.rejected} rejected ({reasons}){tickets}"


@dataclass(frozen=True)
class ReviewRow:
    """A valid review row, with where it came from and the row as read (for a later rejection)."""

    source: str
    line: int
    raw: dict[str, Any]
    review: Review
    scale: ReviewScale


@dataclass(frozen=True)
class _Items:
    """item_id → (ticket_id, category), and each ticket's last item."""

    refs: dict[str, tuple[str, str]]
    last: dict[str, str]

    @classmethod
    def read(cls, path: Path) -> _Items:
        index = read_item_index(path)
        ids, tickets, categories = (index[c].tolist() for c in ("item_id", "ticket_id", "category"))
        return cls(dict(zip(ids, zip(tickets, categories))), dict(zip(tickets, ids)))


def to_five(raw: float, scale: tuple[float, float]) -> float:
    """A score on ``[min, max]`` mapped linearly onto 1-5."""
    low, high = scale
    return 1 + 4 * (raw - low) / (high - low)


def _quarantined(source: str, line: int, field: str, reason: RejectReason, detail: str, raw: Any) -> Quarantined:
    return Quarantined(source=source, line=line, field=field, reason=reason, detail=detail, raw=raw)


def _reason(err: ErrorDetails) -> tuple[RejectReason, str]:
    field = ".".join(str(p) for p in err["loc"]) or str(err.get("ctx", {}).get("field", "(record)"))
    if err["type"] in ("missing", "missing_for_answer"):
        return "missing_field", field
    if err["type"] == "finite_number":
        return "non_finite", field
    if field in ("answer", "source") and err["type"] == "literal_error":
        return ("bad_answer" if field == "answer" else "bad_source"), field
    return "invalid_value", field


def _judged(review: Review, scale: ReviewScale, live: bool) -> tuple[str, RejectReason, str] | None:
    """Why a well-formed review cannot be used (field, reason, detail), or None. ``live``: the monitor's
    reviews of production answers, which need their time; otherwise reviews of the run's items."""
    if live and review.answer != "live":
        return "answer", "not_live", f"the monitor reads live reviews (answer: live), not {review.answer} ones"
    if live and review.reviewed_at is None:
        return "reviewed_at", "missing_field", "a live review needs its reviewed_at: the monitor tests in time order"
    if not live and review.answer == "live":
        return "answer", "live_answer", "a live review has no item: it is evidence after the decision, not imported here"
    if review.answer == "replayed" and review.source != "ai":
        return "source", "bad_source", f"a replayed answer is the item's AI answer, not {review.source}"
    if scale == "pass_fail" and review.score is not None:
        return "score", "score_out_of_range", f"the file's scale is pass_fail: it holds no scores (got {review.score:g})"
    if scale != "pass_fail" and review.score is not None and not scale[0] <= review.score <= scale[1]:
        return "score", "score_out_of_range", f"{review.score:g} is outside the file's scale [{scale[0]:g}, {scale[1]:g}]"
    if review.score is None and review.acceptable is None and review.critical is None:
        field = "acceptable" if scale == "pass_fail" else "score"
        return field, "missing_field", "no score, acceptable or critical: the row says nothing about the answer"
    return None


def _keyed(raw: dict[str, Any], keys: Keys) -> dict[str, Any]:
    """A row of a single-answer packet with its item and answer from the review key (other rows as they are);
    a row of an audit packet with its live answer's ticket, turn and category from the audit key.

    The key wins: a filled packet's ``answer`` column is the text the reviewer read, not the answer kind.
    """
    key = keys.get(str(raw.get("review_id")))
    if key is None:
        return raw
    return {**raw, **key.model_dump(include=set(KEYED))}


def _parsed(spec: ReviewFile, line: int, raw: Any, keys: Keys, live: bool) -> ReviewRow | Quarantined:
    """One row of a review file as a review, or why not."""
    source = spec.path
    if isinstance(raw, json.JSONDecodeError):
        return _quarantined(source, line, "(record)", "invalid_json", str(raw), None)
    if not isinstance(raw, dict):
        return _quarantined(source, line, "(record)", "not_an_object", type(raw).__name__, raw)
    try:
        review = Review.model_validate(_keyed(mapped_row(raw, spec.columns), keys))
    except CellError as exc:
        return _quarantined(source, line, exc.field, exc.reason, exc.detail, raw)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        reason, field = _reason(err)
        return _quarantined(source, line, field, reason, f"{err['msg']} (got {err.get('input')!r})", raw)
    assert spec.scale is not None  # ReviewsConfig.file_specs fills it in
    problem = _judged(review, spec.scale, live)
    if problem is not None:
        return _quarantined(source, line, *problem, raw)
    return ReviewRow(source, line, raw, review, spec.scale)


def review_rows(spec: ReviewFile, keys: Keys, live: bool = False) -> Iterator[ReviewRow | Quarantined]:
    """Rows of a JSONL or CSV file, or the annotations of a Label Studio ``.json`` export (its line: the task number)."""
    path = Path(spec.path)
    if not path.exists():
        raise MissingInput(f"{path}: reviews file not found", file=path)
    rows = read_labelstudio_export(path) if path.suffix.lower() == ".json" else read_rows(path, boolean_columns(spec.columns))
    for line, raw in rows:
        yield _parsed(spec, line, raw, keys, live)


def _unblinded(row: ReviewRow, items: _Items) -> UnblindedReview | Quarantined:
    """The review matched to its item (a ticket id: to the ticket's last item), or unknown_item."""
    review = row.review
    item = review.item_id if review.item_id in items.refs else items.last.get(str(review.item_id))
    if item is None:
        return _quarantined(row.source, row.line, "item_id", "unknown_item",
                            f"{review.item_id} is neither an item nor a ticket in items.jsonl", row.raw)
    ticket_id, category = items.refs[item]
    raw_score = review.score
    score = None if raw_score is None or row.scale == "pass_fail" else to_five(raw_score, row.scale)
    # replayed: the item's AI answer; historical: its recorded agent turn (source says who wrote it)
    answer: Literal["historical", "replayed"] = "replayed" if review.answer == "replayed" else "historical"
    return UnblindedReview(
        review_id=review.review_id, item_id=item, ticket_id=ticket_id, category=category,
        side="ai" if answer == "replayed" else "human", answer=answer, source=review.source, reviewer=review.reviewer,
        score=score, score_raw=raw_score, scale=row.scale, acceptable=review.acceptable, critical=review.critical,
        reviewed_at=review.reviewed_at, comment=review.comment, source_file=row.source, line=row.line,
    )


def _content(review: UnblindedReview) -> str:
    return review.model_dump_json(exclude={"source_file", "line"})


def _deduplicated(rows: list[tuple[ReviewRow, UnblindedReview]]) -> tuple[list[UnblindedReview], list[Quarantined]]:
    """Exact repeats and conflicts of one review_id, then a named reviewer's second review of an answer."""
    contents: dict[str, set[str]] = {}
    for _, review in rows:
        contents.setdefault(review.review_id, set()).add(_content(review))
    kept: list[UnblindedReview] = []
    bad: list[Quarantined] = []
    first_of_id: dict[str, UnblindedReview] = {}
    first_of_answer: dict[tuple[str, str, str], UnblindedReview] = {}
    for row, review in rows:
        rid = review.review_id
        if len(contents[rid]) > 1:
            bad.append(_quarantined(row.source, row.line, "review_id", "conflicting_duplicate",
                                    f"{rid} appears more than once with different content", row.raw))
        elif rid in first_of_id:
            first = first_of_id[rid]
            bad.append(_quarantined(row.source, row.line, "review_id", "duplicate",
                                    f"{rid} repeats {first.source_file}:{first.line}: first copy kept", row.raw))
        elif review.reviewer is not None and (key := (review.item_id, review.side, review.reviewer)) in first_of_answer:
            first = first_of_answer[key]
            bad.append(_quarantined(row.source, row.line, "reviewer", "duplicate",
                                    f"{review.reviewer} already reviewed the {review.side} answer of {review.item_id} "
                                    f"({first.review_id}, {first.source_file}:{first.line}): first kept", row.raw))
        else:
            first_of_id[rid] = review
            if review.reviewer is not None:
                first_of_answer[(review.item_id, review.side, review.reviewer)] = review
            kept.append(review)
    return kept, bad


def _counts(specs: Sequence[ReviewFile], read: dict[str, int], kept: list[UnblindedReview],
            rejected: list[Quarantined]) -> tuple[dict[str, dict[str, int]], dict[str, int], dict[str, int]]:
    """Per file (read, kept, rejected), per reason and per kind."""
    per_file = {s.path: {"read": read[s.path], "rejected": sum(q.source == s.path for q in rejected)} for s in specs}
    for counts in per_file.values():
        counts["kept"] = counts["read"] - counts["rejected"]
    by_reason: dict[str, int] = {}
    for q in rejected:
        by_reason[q.reason] = by_reason.get(q.reason, 0) + 1
    by_kind = dict.fromkeys(KINDS, 0)
    for r in kept:
        by_kind[f"{r.answer}-{r.source}"] = by_kind.get(f"{r.answer}-{r.source}", 0) + 1
    return per_file, by_reason, by_kind


def read_keys(review_key: Path | None, audit_key: Path | None = None) -> dict[str, ReviewKey | AuditKey]:
    """The review key and the audit key, where they exist, by review_id."""
    keys: dict[str, ReviewKey | AuditKey] = {}
    if review_key is not None and Path(review_key).exists():
        keys.update((k.review_id, k) for k in read_jsonl(Path(review_key), ReviewKey))
    if audit_key is not None and Path(audit_key).exists():
        keys.update((k.review_id, k) for k in read_jsonl(Path(audit_key), AuditKey))
    return keys


def import_reviews(specs: Sequence[ReviewFile], items_path: Path, out_path: Path, rejections_path: Path,
                   key_path: Path | None = None, audit_key_path: Path | None = None) -> ReviewsSummary:
    """Review files (each with its scale and columns filled in) into ``out_path``, rejected rows into ``rejections_path``.

    ``key_path``, the review key of single-answer packets where there is one, names what their rows reviewed;
    ``audit_key_path`` names the live answers of audit packets, whose reviews are rejected here (``live_answer``:
    the monitor reads them).

    ``out_path`` is rewritten from ``specs`` alone, so pass every review file. Both files are
    private (0600): they say which answer is the AI's.
    """
    items = _Items.read(Path(items_path))
    keys = read_keys(key_path, audit_key_path)
    matched: list[tuple[ReviewRow, UnblindedReview]] = []
    rejected: list[Quarantined] = []
    read: dict[str, int] = {}
    for spec in specs:
        read.setdefault(spec.path, 0)
        for row in review_rows(spec, keys):
            read[spec.path] += 1
            review = row if isinstance(row, Quarantined) else _unblinded(row, items)
            if isinstance(review, Quarantined):
                rejected.append(review)
            elif isinstance(row, ReviewRow):
                matched.append((row, review))
    kept, bad = _deduplicated(matched)
    order = list(read)
    rejected = sorted(rejected + bad, key=lambda q: (order.index(q.source), q.line))
    write_jsonl(Path(out_path), kept, private=True)
    write_jsonl(Path(rejections_path), rejected, private=True)
    per_file, by_reason, by_kind = _counts(specs, read, kept, rejected)
    survivors = {id(r) for r in kept}
    from_ticket = sum(id(r) in survivors and row.review.item_id not in items.refs for row, r in matched)
    return ReviewsSummary(
        files=order, out_path=str(out_path), rejections_path=str(rejections_path), read=sum(read.values()),
        kept=len(kept), rejected=len(rejected), by_reason=by_reason, by_kind=by_kind, per_file=per_file,
        from_ticket=from_ticket, rejections=rejected,
    )


def read_reviews(path: Path) -> pd.DataFrame:
    """``reviews.jsonl`` as a table of ``COLUMNS`` (one row per review); a bad line raises with file, line, field.
    A run without reviews has no file: an empty table."""
    path = Path(path)
    if not path.exists():
        return pd.DataFrame(columns=list(COLUMNS))
    rows = [tuple(getattr(r, c) for c in COLUMNS) for r in read_jsonl(path, UnblindedReview)]
    return pd.DataFrame(rows, columns=list(COLUMNS))
