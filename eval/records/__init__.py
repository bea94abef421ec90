"""The records passed between stages (field names fixed by DESIGN.md; other tools write them).

Every persisted file is JSON Lines of one of these models (``decisions.json``: one ``Decisions``).
Extra fields written by other tools are kept (``extra="allow"``) so a round trip never loses
data; our own additions are optional so files written by other tools still validate.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from eval.records.base import Record, iso_8601 as _iso_8601, unset as _unset
from eval.records.decisions import CategoryDecision, CutDecision, Decisions, EvidenceKind, Reason, Route, Tier
from eval.records.monitor import AssistLog, CategoryMonitor, LiveReview, Monitor

Role = Literal["customer", "agent", "system", "note"]
Side = Literal["human", "ai"]


class Turn(Record):
    role: Role
    text: str = Field(min_length=1)
    author: str | None = None

    @field_validator("text")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("text is blank")
        return v


class Ticket(Record):
    ticket_id: str = Field(min_length=1)
    category: str = Field(min_length=1)
    created_at: str | None = None
    channel: str | None = None
    turns: list[Turn] = Field(min_length=1)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("created_at")
    @classmethod
    def _iso_time(cls, v: str | None) -> str | None:
        return _iso_8601(v)

    @field_validator("turns")
    @classmethod
    def _has_agent_turn(cls, v: list[Turn]) -> list[Turn]:
        if not any(t.role == "agent" for t in v):
            raise ValueError("no agent turn")
        return v


class PrecomputedAnswer(Record):
    """An AI answer logged by another system (shadow mode)."""

    ticket_id: str
    turn_index: int = Field(ge=0)
    text: str
    model: str | None = None
    latency_ms: float | None = None


class HumanAnswer(Record):
    text: str
    author: str | None = None


class Usage(Record):
    """Tokens a model call used and what they cost at the configured prices."""

    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    cost: float = Field(default=0.0, ge=0.0)


class AIAnswer(Record):
    """What a responder returned; ``error`` set means the call failed, never a bad answer."""

    text: str | None = None
    responder: str
    model: str | None = None
    latency_ms: float | None = None
    error: str | None = None
    usage: Usage | None = Field(default=None, exclude_if=_unset)
    """Model responders only; written only when set, so other responders' items are unchanged."""


class Item(Record):
    item_id: str
    ticket_id: str
    turn_index: int
    category: str
    context: list[Turn]
    human: HumanAnswer
    ai: AIAnswer
    metadata: dict[str, Any] = Field(default_factory=dict)
    """Ticket metadata, for rubric facts only: responders never see it (it holds outcomes such as csat)."""


class CriterionResult(Record):
    """``value`` is None when the criterion does not apply to this answer (N/A)."""

    value: float | None
    passed: bool | None
    critical: bool = False
    reason: str | None = Field(default=None, exclude_if=_unset)
    """Why an ``llm_judge`` criterion gave its value (the judge's own words)."""
    error: str | None = Field(default=None, exclude_if=_unset)
    """Why an ``llm_judge`` criterion has no value (failed call, malformed verdict)."""


class Score(Record):
    item_id: str
    side: Side
    rubric: str
    criteria: dict[str, CriterionResult]
    score: float | None = Field(default=None, ge=0.0, le=1.0)
    critical_fail: bool = False
    error: str | None = None


class Quarantined(Record):
    """A rejected input record and why; ``raw`` is the record as read (or its text)."""

    source: str
    line: int
    field: str
    reason: str
    detail: str = ""
    raw: Any = None


def item_id(ticket_id: str, turn_index: int) -> str:
    return f"{ticket_id}#{turn_index}"


class BlindKey(Record):
    """Maps a blind packet's X/Y to the sources; never shown to reviewers."""

    rating_id: str
    item_id: str
    x: Side
    y: Side
    gold: bool = False
    reviewer: str | None = None
    """Who was given this rating_id (x/y is drawn per reviewer and item); None in older keys."""
    round: int = 0
    """Packet round: 0 first, then one more per follow-up round drawn after decisions."""
    stratum: str | None = None
    """The item's certainty stratum where its round drew the category by stratum (``eval.decide.design``)."""
    probability: float | None = Field(default=None, gt=0, le=1)
    """The item's inclusion probability when drawn: the share of its category (or stratum) drawn so far."""


def _scores_or_preference(first: int | None, second: int | None, preference: str | None, names: tuple[str, str]) -> None:
    """Both scores or neither (a preference-only comparison, which then needs its preference): half a
    pair cannot be compared, so the rating is rejected naming the missing field."""
    if (first is None) != (second is None):
        missing, given = names if first is None else names[::-1]
        _missing(missing, f"{missing} is required when {given} is given (both scores, or neither for a "
                          "preference-only rating)")
    if first is None and preference is None:
        _missing("preference", "preference is required when a rating has no scores")


def _missing(field: str, message: str) -> None:
    """A validation error located at ``field`` (a model validator's own errors carry no field)."""
    raise ValidationError.from_exception_data("Rating", [InitErrorDetails(
        type=PydanticCustomError("missing", message), loc=(field,), input=None)])


class Rating(Record):
    """One reviewer's verdict on one packet, as reviewers return it (still blind)."""

    rating_id: str
    reviewer: str | None
    """None: an anonymous rater (agreement is still measured; reliability is not assessable)."""
    score_x: int | None = Field(default=None, ge=1, le=5)
    score_y: int | None = Field(default=None, ge=1, le=5)
    preference: Literal["x", "y", "tie_good", "tie_bad"] | None = None
    acceptable_x: bool | None = None
    acceptable_y: bool | None = None
    critical_x: bool | None = None
    critical_y: bool | None = None
    comment: str | None = None
    seconds: float | None = None

    @model_validator(mode="after")
    def _comparable(self) -> Rating:
        _scores_or_preference(self.score_x, self.score_y, self.preference, ("score_x", "score_y"))
        return self


Preference = Literal["ai", "human", "tie_good", "tie_bad"]


class UnblindedRating(Record):
    """A rating mapped back through the key (``ratings.jsonl``): x/y replaced by ai/human."""

    rating_id: str
    item_id: str
    ticket_id: str
    category: str
    reviewer: str | None
    score_ai: int | None = Field(default=None, ge=1, le=5)
    score_human: int | None = Field(default=None, ge=1, le=5)
    preference: Preference | None = None
    acceptable_ai: bool | None = None
    acceptable_human: bool | None = None
    critical_ai: bool | None = None
    critical_human: bool | None = None
    gold: bool = False
    seconds: float | None = None
    comment: str | None = None

    @model_validator(mode="after")
    def _comparable(self) -> UnblindedRating:
        _scores_or_preference(self.score_ai, self.score_human, self.preference, ("score_ai", "score_human"))
        return self


ReviewedAnswer = Literal["historical", "replayed", "live"]
"""The agent turn as it happened, the item's AI answer, or a production answer after the decision."""
ReviewSource = Literal["ai", "human", "ai_draft"]
ReviewScale = tuple[float, float] | Literal["pass_fail"]
"""A review file's score scale: [min, max], or pass_fail for files that only say acceptable or not."""


class Review(Record):
    """One answer reviewed on its own, as a ``reviews`` file holds it (DESIGN.md Review).

    ``score`` is on the file's scale, which only the config knows, so the importer checks its range.
    A live review names its turn (ticket_id, turn_index, category) since it has no item.
    """

    review_id: str = Field(min_length=1)
    item_id: str | None = None
    answer: ReviewedAnswer
    source: ReviewSource
    reviewer: str | None = None
    score: float | None = Field(default=None, allow_inf_nan=False)
    acceptable: bool | None = None
    critical: bool | None = None
    reviewed_at: str | None = None
    comment: str | None = None
    ticket_id: str | None = None
    turn_index: int | None = Field(default=None, ge=0)
    category: str | None = None

    @field_validator("item_id", "reviewer", "reviewed_at", "comment", "ticket_id", "category", mode="before")
    @classmethod
    def _blank_is_none(cls, v: Any) -> Any:
        """Blank text is no value, as an empty CSV cell is, so JSONL and CSV read alike (a blank reviewer: anonymous)."""
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("score", mode="before")
    @classmethod
    def _not_bool(cls, v: Any) -> Any:
        """``true`` is not a score (pydantic would read it as 1)."""
        if isinstance(v, bool):
            raise ValueError("a score is a number, not a boolean")
        return v

    @field_validator("reviewed_at")
    @classmethod
    def _iso_time(cls, v: str | None) -> str | None:
        return _iso_8601(v)

    @model_validator(mode="after")
    def _names_its_answer(self) -> Review:
        needed = ("ticket_id", "turn_index", "category") if self.answer == "live" else ("item_id",)
        for name in needed:
            if getattr(self, name) is None:
                raise PydanticCustomError("missing_for_answer", "{field} is required when answer is {answer}",
                                          {"field": name, "answer": self.answer})
        return self


class UnblindedReview(Record):
    """A review matched to its item (``reviews.jsonl``): the side of the item it reviewed (``ai``: the
    replayed AI answer; ``human``: the recorded agent turn, whoever wrote it, which ``source`` says),
    its score mapped to 1-5 beside the file's own, and the file and line it came from."""

    review_id: str
    item_id: str
    ticket_id: str
    category: str
    side: Side
    answer: Literal["historical", "replayed"]
    source: ReviewSource
    reviewer: str | None = None
    score: float | None = Field(default=None, ge=1, le=5)
    score_raw: float | None = None
    scale: ReviewScale = (1.0, 5.0)
    acceptable: bool | None = None
    critical: bool | None = None
    reviewed_at: str | None = None
    comment: str | None = None
    source_file: str
    line: int


# re-exported: every record is importable from eval.records, wherever it is defined
__all__ = ["AssistLog", "CategoryDecision", "Route", "CategoryMonitor", "CutDecision", "Decisions", "EvidenceKind", "LiveReview",
           "Monitor", "Reason", "Record", "Tier"]
