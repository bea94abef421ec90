"""The decision policy: every threshold a tier depends on, loaded from YAML and validated.

One pydantic model so a policy typo fails before any number is computed, with the file and
key named; ``policy.yaml`` next to this module is the shipped default, and the policy actually
used is written into ``decisions.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from eval.config import problems, read_yaml_mapping
from eval.errors import UserError

DEFAULT_POLICY = Path(__file__).with_name("policy.yaml")


class PolicyError(UserError):
    """A policy problem, phrased for the user with the file and key."""


class ReviewerPolicy(BaseModel):
    """When a reviewer counts as unreliable; judged only with at least ``min_overlap`` co-rated units."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_overlap: int = Field(default=20, ge=1)
    min_consensus_spearman: float = 0.3
    max_abs_bias: float = Field(default=1.0, gt=0)
    min_gold_flags: int = Field(default=5, ge=1)
    min_gold_accuracy: float = Field(default=0.8, ge=0, le=1)
    exclude_unreliable: bool = True


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    always_human: list[str] = Field(default_factory=list)
    min_rated: int = Field(default=40, ge=1)
    settled_audit_items: int = Field(default=20, ge=0)
    """Items a follow-up round still draws in each settled category (decided, or no more ratings would move
    it): a uniform sample that keeps checking the decision and carries that round's gold items there."""
    min_alpha: float = Field(default=0.667, le=1)
    margin: float = Field(default=0.25, ge=0)
    win_rate_margin: float = Field(default=0.1, ge=0, lt=0.5)
    """Non-inferiority margin on the AI win rate (ties as half) for ratings without scores: the lower bound
    must exceed 1/2 minus this. decisions.json records it only where a gate tested a win rate."""
    noninferiority_alpha: float = Field(default=0.025, gt=0, lt=0.5)
    critical_ub_automate: float = Field(default=0.02, gt=0, lt=1)
    acceptable_diff_lb: float = Field(default=-0.05, ge=-1, le=1)
    acceptable_lb_assist: float = Field(default=0.5, ge=0, le=1)
    critical_ub_assist: float = Field(default=0.10, gt=0, lt=1)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    bootstrap_resamples: int = Field(default=2000, ge=2000)
    seed: int = 0
    power: float = Field(default=0.8, gt=0, lt=1)
    audit_power: float = Field(default=0.9, gt=0, lt=1)
    """The audit plan says within how many weeks a raised harmful rate is caught this often."""
    audit_alpha: float = Field(default=0.05, gt=0, lt=1)
    """Chance of any false demotion over every monitored category and test and the horizon."""
    audit_rate_multiplier: float = Field(default=2.0, gt=1)
    """The audit plan gives detection delays for this and twice this multiple of the automate limit."""
    audit_hours_per_week: float = Field(default=10.0, gt=0)
    """QA reviewer hours a week for live audits, shared over the automated categories."""
    audit_minutes_per_review: float = Field(default=3.0, gt=0)
    """QA minutes per audited answer: with the hours, the audits a week there are to share."""
    monitor_horizon_weeks: int = Field(default=52, ge=1)
    """Weeks the demotion thresholds cover at the planned audit rate; past them the plan is renewed."""
    reviewers: ReviewerPolicy = ReviewerPolicy()
    monitor_reviews_per_week: int = Field(default=40, ge=1)
    """Live reviews a week a watched category without an audit plan (an assist one's drafts) is planned for."""
    promote_unchanged_share: float = Field(default=0.8, gt=0, le=1)
    """Share of drafts agents send unchanged that an assist category needs, besides its reviewed drafts
    passing the automate gates, to be recommended for automate."""
    cut_by: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list, exclude_if=lambda keys: not keys)
    """Ticket metadata keys to decide each category by as well (eval.decide.cuts); left out of the
    dump when empty, so decisions.json of a run without cuts keeps its bytes."""
    unpaired_may_automate: bool = Field(default=False, exclude_if=lambda allowed: not allowed)
    """Whether reviews of different tickets (observational) alone may reach automate (eval.decide.evidence);
    left out of the dump when false, as are the keys below when empty, so runs without reviews keep their bytes."""
    unpaired_covariates: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list, exclude_if=lambda keys: not keys)
    """Ticket metadata keys known before the first answer that the unpaired adjustment also weighs
    (channel, language and first-message length always are); never outcomes such as csat."""

    @field_validator("cut_by")
    @classmethod
    def _distinct(cls, keys: list[str]) -> list[str]:
        if len(set(keys)) < len(keys):
            raise ValueError("a key is named twice")
        return keys


def load_policy(source: Path | dict | None) -> Policy:
    """The default policy, a YAML file, or a mapping (e.g. the run config's ``policy:``)."""
    where = "policy"
    if source is None:
        source = DEFAULT_POLICY
    if isinstance(source, (str, Path)):
        where = str(source)
        source = read_yaml_mapping(source, "policy", PolicyError)
    if not isinstance(source, dict):
        raise PolicyError(f"{where}: expected a mapping of policy keys")
    try:
        return Policy.model_validate(source)
    except ValidationError as exc:
        raise PolicyError(f"{where}: {problems(exc)}") from exc
