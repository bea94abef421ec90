"""The records after a decision: live reviews as the monitor keeps them, assist logs, ``monitor.json``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from eval.records.base import Record, iso_8601
from eval.records.decisions import Tier


class AssistLog(Record):
    """What an agent did with an AI draft in an assist category (DESIGN.md Assist log)."""

    ticket_id: str = Field(min_length=1)
    turn_index: int = Field(ge=0)
    category: str = Field(min_length=1)
    draft: str
    sent: str
    agent: str | None = None
    sent_at: str | None = None
    handle_time_s: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    """Optional: the agent's handle time with the draft, for time saved against the category's historical one."""

    @field_validator("sent_at")
    @classmethod
    def _iso_time(cls, v: str | None) -> str | None:
        return iso_8601(v)


class LiveReview(Record):
    """A live review kept by the monitor (``RUN/live_reviews.jsonl``): a production answer of an automated
    category (``source: ai``) or a reviewed draft of an assist one (``ai_draft``), its score mapped to 1-5."""

    review_id: str
    ticket_id: str
    turn_index: int
    category: str
    source: Literal["ai", "ai_draft", "human"]
    reviewer: str | None
    score: float | None
    score_raw: float | None
    acceptable: bool | None
    critical: bool | None
    reviewed_at: str
    source_file: str
    line: int


class CategoryMonitor(Record):
    """One category after its decision: the tier decided, the tier now, and what changed it."""

    category: str
    tier_decided: Tier
    tier: Tier
    changed_at: str | None
    """The review time that triggered the change (None: no change)."""
    reason: str
    evidence: dict[str, Any]


class Monitor(Record):
    """The content of ``monitor.json``."""

    alpha: float
    """The chance of any false demotion, over every category, both tests and the horizon."""
    horizon_weeks: float
    """The weeks the tests' thresholds are set for (at each category's planned audits a week)."""
    reviews: int
    assist_logs: int
    categories: list[CategoryMonitor]
