"""The decision records (``decisions.json``): a tier per category with every gate and number behind it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from eval.records.base import Record, unset as _unset


Tier = Literal["automate", "assist", "human"]
EvidenceKind = Literal["paired_ratings", "reviews_paired", "reviews_unpaired"]
"""Strongest first: blind ratings of both answers of an item, single-answer reviews of both answers of an
item, single-answer reviews of different tickets (observational)."""


class Reason(Record):
    """One gate of a category's decision: what was measured, against which threshold."""

    gate: str
    passed: bool
    value: float | None
    threshold: float | None
    text: str
    level: float | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    measure: str | None = Field(default=None, exclude_if=_unset)
    """``win_rate_ai`` when a non-inferiority gate tested the AI win rate (ratings without scores); absent
    for the mean rating difference, so decisions on scored ratings keep their bytes."""


class CutDecision(Record):
    """A category's gates on the subset of its evidence with one value of a ticket metadata key."""

    by: str
    value: str
    """The metadata value, ``(unknown)`` for items without the key."""
    tier: Tier
    tickets: int
    volume_share: float
    rated_items: int
    estimates: dict[str, Any]
    reasons: list[Reason]
    ratings_needed: int | None
    ratings_needed_text: str = ""
    effective_ratings: float | None = Field(default=None, exclude_if=_unset)
    """Ratings the gated estimate is worth with the automatic evidence (eval.decide.automatic); absent without it."""
    ratings_needed_ratings_only: int | None = Field(default=None, exclude_if=_unset)
    """``ratings_needed`` had the ratings been used alone; absent without automatic evidence (or unreachable)."""
    audit_sample_per_week: int | None = None
    audit_text: str = ""


class CategoryDecision(Record):
    """One category's tier with every gate and number behind it (``decisions.json``)."""

    category: str
    tier: Tier
    tickets: int
    volume_share: float
    rated_items: int
    estimates: dict[str, Any]
    reasons: list[Reason]
    ratings_needed: int | None
    ratings_needed_by_gate: dict[str, int | None] = Field(default_factory=dict)
    ratings_needed_text: str = ""
    effective_ratings: float | None = Field(default=None, exclude_if=_unset)
    """Ratings the gated estimate is worth with the automatic evidence (eval.decide.automatic); absent without it."""
    ratings_needed_ratings_only: int | None = Field(default=None, exclude_if=_unset)
    """``ratings_needed`` had the ratings been used alone; absent without automatic evidence (or unreachable)."""
    audit_sample_per_week: int | None = None
    audit_text: str = ""
    ai_answers_per_week: float | None = None
    """Agent turns a week in this category over the tickets' created_at span (None: no dates)."""
    judge: dict[str, Any] | None = None
    """The pairwise judge's evidence (eval.judges.evidence) when a judge ran; never part of a gate."""
    cuts: list[CutDecision] | None = Field(default=None, exclude_if=_unset)
    """Per value of the policy's ``cut_by`` keys (eval.decide.cuts); absent when no cut was asked for."""
    evidence: EvidenceKind | None = Field(default=None, exclude_if=_unset)
    """The kind of evidence the gates used (eval.decide.evidence); absent when the run has no reviews."""
    other_evidence: dict[str, dict[str, Any]] | None = Field(default=None, exclude_if=_unset)
    """The other kinds the category has: per kind its rated items, headline estimate and agreement."""
    routing: dict[str, Any] | None = Field(default=None, exclude_if=_unset)
    """The router's certified routes in this category (``eval.decide.router.routing_summary``), whatever its tier."""


class Decisions(Record):
    """The content of ``decisions.json``: the policy used, the method, and a decision per category."""

    policy: dict[str, Any]
    seed: int | None = None
    method: str
    reviewers_excluded: list[str]
    reviewers_note: str
    categories: list[CategoryDecision]


class Route(Record):
    """Where one agent turn of a new ticket goes (``support-eval route``): the AI alone, an AI draft for a
    person, or a person; with the router's risk of a harmful or unacceptable AI answer."""

    ticket_id: str
    turn_index: int
    category: str
    route: Literal["ai", "assist", "human"]
    risk: float
