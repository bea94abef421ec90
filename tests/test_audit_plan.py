"""The audit plan: QA's hours shared over automated categories, and the detection delays they buy."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

from eval.decide.planning import audit_allocation, detection_weeks, within_volume
from eval.policy import Policy
from eval.records import CategoryDecision
from eval.stats.sequential import harm_spec, split_alpha


def _cat(name: str, tier: str) -> CategoryDecision:
    return CategoryDecision(category=name, tier=tier, tickets=1, volume_share=0.5, rated_items=300, estimates={},
                            reasons=[], ratings_needed=None,
                            audit_text="the monitor demotes it when the harmful rate rises above the 2.0% automate limit"
                            if tier == "automate" else "")


def test_audits_are_shared_in_proportion_to_volume_and_capped_by_it() -> None:
    # 200 a week over 5030 answers: 30/5030 of them for 'small' (at least one a week)
    assert audit_allocation({"small": 30.0, "mid": 1000.0, "big": 4000.0}, 200) == {"small": 1, "mid": 39, "big": 159}
    assert audit_allocation({"a": 100.0, "b": 300.0}, 200) == {"a": 50, "b": 150}
    assert audit_allocation({"a": 10.0, "b": 20.0}, 200) == {"a": 10, "b": 20}  # QA could do more: audit them all
    # a volume unknown: equal shares, and what a capped category cannot use goes to the others
    assert audit_allocation({"a": None, "b": 5.0, "c": None}, 200) == {"a": 97, "b": 5, "c": 97}
    assert audit_allocation({}, 200) == {}


def test_the_plan_says_how_many_audits_and_how_fast_a_rise_is_caught() -> None:
    policy = Policy(audit_hours_per_week=4, audit_minutes_per_review=3)  # 80 audits a week
    start = time.perf_counter()
    a, b, human = within_volume([_cat("a", "automate"), _cat("b", "automate"), _cat("h", "human")],
                                {"a": 1000.0, "b": 1000.0, "h": 10.0}, policy)
    assert time.perf_counter() - start < 1.0  # two categories
    assert (a.audit_sample_per_week, b.audit_sample_per_week) == (40, 40)
    assert human.audit_sample_per_week is None and human.audit_text == "" and human.ai_answers_per_week == 10.0
    text = a.audit_text
    assert text.startswith("audit 40 AI answers a week; from the harmful flags alone, a doubling of the harmful "
                           "rate to 4.0% (2x the automate limit) would be caught in about ")
    assert ", a quadrupling to 8.0% in about " in text and "demotes it when the harmful rate rises above" in text
    doubling, quadrupling = (int(w) for w in re.findall(r"in about (\d+) weeks", text))
    assert 15 < doubling < 40 and 2 <= quadrupling <= 6 and "in at most 5% of cases" in text


def test_delays_come_from_the_detector_the_monitor_runs() -> None:
    spec = harm_spec(0.02, split_alpha(0.05, 2), 40 * 52)
    median, slow = detection_weeks(spec, 0.08, 40, 52, 0.9)
    assert (median, slow) == detection_weeks(spec, 0.08, 40, 52, 0.9)  # deterministic
    assert 2 < median < slow < 10
    # more audits, faster; too few, never within the horizon
    assert detection_weeks(harm_spec(0.02, 0.0125, 80 * 52), 0.08, 80, 52, 0.9)[0] < median
    assert detection_weeks(harm_spec(0.02, 0.0125, 2 * 52), 0.08, 2, 52, 0.9) == (np.inf, np.inf)


def test_too_few_audits_say_the_rise_would_probably_go_unseen() -> None:
    policy = Policy(audit_hours_per_week=0.1)  # 2 audits a week
    (cat,) = within_volume([_cat("a", "automate")], {"a": 500.0}, policy)
    assert cat.audit_sample_per_week == 2
    assert "would probably not be caught within the 52-week horizon" in cat.audit_text
    (cat,) = within_volume([_cat("a", "automate")], {"a": 500.0}, Policy(audit_hours_per_week=1.25))  # 25 a week
    assert "caught in about 29 weeks (within the horizon in fewer than 90% of cases)" in cat.audit_text


@pytest.mark.parametrize("multiplier,words", [(2.0, "a doubling"), (3.0, "a tripling")])
def test_the_rises_follow_the_policy_multiplier(multiplier: float, words: str) -> None:
    (cat,) = within_volume([_cat("a", "automate")], {"a": 500.0}, Policy(audit_rate_multiplier=multiplier))
    assert f"{words} of the harmful rate to {multiplier * 2:.1f}%" in cat.audit_text
