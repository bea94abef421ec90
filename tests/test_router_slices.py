"""Where the AI fails (eval.decide.router.slices): a planted harmful minority is found with its size and harm, and
with no subgroup of its own (the AI uniformly worse than people) no slice is reported beyond the error rate."""

from __future__ import annotations

import numpy as np

from eval.decide.router.slices import candidates, describe, find_slices, slice_line
from eval.policy import Policy
from eval.synth.routing import Scenario, planted_turns


def test_the_planted_chargeback_minority_is_found_with_its_size_and_harm() -> None:
    policy = Policy()
    for seed in (1, 2, 3):
        turns = planted_turns(np.random.default_rng(seed), 1000)
        found = find_slices(turns, policy)
        assert found and all(s["kind"] == "phrase" and "harm" in s["found"] for s in found)
        masks = {(k, v): m for k, v, m in candidates(turns)}
        cue = turns["cue"].to_numpy()
        union = np.zeros(len(turns), bool)
        for s in found:
            mask = masks[(s["kind"], s["value"])]
            assert cue[mask].mean() >= 0.9, s["value"]  # no routine phrase
            assert 0.2 <= s["ai_harmful"] <= 0.5 and s["human_harmful"] == 0.0 and s["harm_p_adjusted"] <= 0.05
            assert s["turns"] == mask.sum() and s["share"] == mask.mean()
            assert 1 <= len(s["examples"]) <= 3 and all(len(e) <= 161 for e in s["examples"])
            union |= mask
        assert 0.11 <= union.mean() <= 0.19 and union[cue].mean() >= 0.9
        assert 0.27 <= turns["crit_ai"][union].mean() <= 0.43


def test_with_no_subgroup_of_its_own_at_most_a_few_percent_of_categories_show_a_slice() -> None:
    """50 categories where the AI is worse than people everywhere alike (6% harmful against 1%, acceptable 74%
    against 94%): every slice is worse than people, none worse than the rest; the IUT and BH keep the share of
    runs reporting any slice near alpha (BH under the global null controls the family-wise rate)."""
    null = Scenario(cue_harm=0.06, routine_harm=0.06, unacceptable=0.2, human_harm=0.01)
    policy = Policy()
    runs = [bool(find_slices(planted_turns(np.random.default_rng(500 + run), 600, null), policy)) for run in range(50)]
    assert sum(runs) <= 3
    rare = Scenario(cue_harm=0.002)  # cue harm as routine harm: hardly any harm at all
    assert not any(find_slices(planted_turns(np.random.default_rng(900 + run), 600, rare), policy) for run in range(5))


def test_the_phrasing() -> None:
    s = {"category": "refund_request", "kind": "phrase", "value": "chargeback", "turns": 48, "category_turns": 320,
         "share": 0.15, "ai_harmful": 0.35, "human_harmful": 0.02, "mean_diff": -0.4, "found": ["harm"]}
    assert slice_line(s) == ("AI answers to tickets that mention “chargeback”: 35% harmful (people 2%), "
                             "48 of 320 rated turns")
    both = {**s, "kind": "channel", "value": "web_form", "found": ["harm", "quality"], "turns": 1200,
            "category_turns": 4000}
    assert slice_line(both) == ("AI answers to tickets on the web form channel: 35% harmful (people 2%) and rated "
                                "0.40 points below people's, 1,200 of 4,000 rated turns")
    assert describe({**s, "kind": "fact", "value": "plan=gold_plus"}) == "tickets whose plan is “gold plus”"
    assert describe({**s, "kind": "language", "value": "de"}) == "tickets in language “de”"
