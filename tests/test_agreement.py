"""In-house ordinal alpha against the (GPL, test-only) krippendorff package; reviewer reliability."""

from __future__ import annotations

import json

import krippendorff
import numpy as np
import pandas as pd
import pytest

from eval.policy import ReviewerPolicy, load_policy
from eval.ratings.agreement import (
    PREFERENCE_VALUES,
    agreement_report,
    agreement_to_file,
    agreement_units,
    item_alpha,
    ordinal_alpha,
    rated_on,
    reviewer_exclusion,
    reviewer_reliability,
    unit_counts,
)
from eval.records import UnblindedRating


def _counts(data: np.ndarray) -> np.ndarray:
    coder, unit = np.nonzero(~np.isnan(data))
    return unit_counts(unit, data[coder, unit].astype(int))


@pytest.mark.parametrize("seed", range(8))
def test_alpha_equals_krippendorff_package(seed):
    rng = np.random.default_rng(seed)
    coders, units = rng.integers(2, 7), rng.integers(5, 80)
    truth = rng.integers(1, 6, units)
    noise = rng.integers(-1, 2, (coders, units)) * (rng.random((coders, units)) < 0.4)
    data = np.clip(truth + noise, 1, 5).astype(float)
    if seed % 2:
        data = rng.integers(1, 6, (coders, units)).astype(float)  # no agreement at all
    if seed == 3:
        data[data == 2] = 3  # a value never used
    data[rng.random(data.shape) < 0.35] = np.nan
    ours = ordinal_alpha(_counts(data))
    ref = krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal")
    assert ours == pytest.approx(ref, abs=1e-9)


def test_alpha_limits():
    perfect = np.array([[1, 2, 3, 4, 5, 5], [1, 2, 3, 4, 5, 5]], dtype=float)
    assert ordinal_alpha(_counts(perfect)) == pytest.approx(1.0)
    lone = np.array([[1, 2, np.nan], [np.nan, np.nan, 3]])  # no unit rated twice
    assert np.isnan(ordinal_alpha(_counts(lone)))


def _long(data: np.ndarray) -> pd.DataFrame:
    """Reliability data whose columns pair up as (item, ai side), (item, human side)."""
    coder, unit = np.nonzero(~np.isnan(data))
    return pd.DataFrame({"item": unit // 2, "side": unit % 2, "score": data[coder, unit].astype(int)})


def test_item_alpha_point_exact_within_one_and_interval():
    rng = np.random.default_rng(4)
    truth = rng.integers(1, 6, 400)
    data = np.clip(truth + rng.integers(-1, 2, (3, 400)) * (rng.random((3, 400)) < 0.5), 1, 5).astype(float)
    data[rng.random(data.shape) < 0.3] = np.nan
    res = item_alpha(_long(data), 2000, 0.95, np.random.default_rng(0))
    assert res.alpha == pytest.approx(krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal"),
                                      abs=1e-9)
    assert res.low < res.alpha < res.high
    # exact / within-one agreement: share of ordered pairs within a unit, each unit weighted 1/(m-1)
    num_exact = num_near = total = 0.0
    for u in range(data.shape[1]):
        vals = data[~np.isnan(data[:, u]), u]
        if len(vals) < 2:
            continue
        diffs = np.abs(vals[:, None] - vals[None, :])[~np.eye(len(vals), dtype=bool)]
        num_exact += (diffs == 0).sum() / (len(vals) - 1)
        num_near += (diffs <= 1).sum() / (len(vals) - 1)
        total += len(vals)
    assert res.exact == pytest.approx(num_exact / total)
    assert res.within_one == pytest.approx(num_near / total)


def test_item_bootstrap_matches_naive_item_resampling():
    """The pattern/multinomial shortcut has the same distribution as resampling items one by one."""
    rng = np.random.default_rng(9)
    truth = rng.integers(1, 6, 120)
    data = np.clip(truth + rng.integers(-2, 3, (2, 120)) * (rng.random((2, 120)) < 0.5), 1, 5).astype(float)
    long = _long(data)
    res = item_alpha(long, 4000, 0.90, np.random.default_rng(1))
    naive_rng = np.random.default_rng(2)
    items = np.arange(60)
    boot = []
    for _ in range(1500):  # test-side reference only: a plain loop is the point
        pick = naive_rng.choice(items, size=items.size)
        cols = np.concatenate([[2 * i, 2 * i + 1] for i in pick])
        boot.append(ordinal_alpha(_counts(data[:, cols])))
    low, high = np.quantile(boot, [0.05, 0.95])
    assert res.low == pytest.approx(low, abs=0.03)
    assert res.high == pytest.approx(high, abs=0.03)


def _panel(seed: int = 0, n_items: int = 300) -> pd.DataFrame:
    """Ratings from careful reviewers, one careless, one harsh; gold items rated by four."""
    rng = np.random.default_rng(seed)
    quality = rng.uniform(1, 5, (n_items, 2))
    gold = rng.random(n_items) < 0.1
    quality[gold] = rng.choice([1.2, 4.7], size=(gold.sum(), 2))
    careful = ["qa_1", "qa_2", "qa_3", "qa_4"]
    rows = []
    for i in range(n_items):
        who = careful if gold[i] else list(rng.choice(careful + ["careless", "harsh"], 2, replace=False))
        if gold[i]:
            who = who + ["careless"]
        for r in who:
            if r == "careless":
                s = rng.integers(1, 6, 2)
                acc, crit = rng.random(2) < 0.7, rng.random(2) < 0.01
            else:
                s = np.clip(np.rint(quality[i] + rng.normal(0, 0.3, 2) - (1.6 if r == "harsh" else 0)), 1, 5)
                acc, crit = quality[i] >= 3, quality[i] < 1.5
            rows.append({"item_id": f"T{i}#1", "ticket_id": f"T{i}", "category": "c", "reviewer": r,
                         "score_ai": int(s[0]), "score_human": int(s[1]), "gold": bool(gold[i]),
                         "acceptable_ai": bool(acc[0]), "acceptable_human": bool(acc[1]),
                         "critical_ai": bool(crit[0]), "critical_human": bool(crit[1])})
    return pd.DataFrame(rows)


def test_careless_and_harsh_reviewers_are_flagged_careful_ones_not():
    table = reviewer_reliability(_panel(), ReviewerPolicy()).set_index("reviewer")
    assert table.loc["careless", "flagged"] and table.loc["harsh", "flagged"]
    assert not table.loc[["qa_1", "qa_2", "qa_3", "qa_4"], "flagged"].any()
    assert table.loc["harsh", "bias"] < -1.0
    assert any("gold accuracy" in r for r in table.loc["careless", "reasons"])
    assert any("track the other reviewers" in r for r in table.loc["careless", "reasons"])
    assert (table.loc[["qa_1", "qa_2"], "gold_accuracy"] > 0.95).all()


def test_gold_accuracy_against_the_others_majority():
    base = {"ticket_id": "T", "category": "c", "score_ai": 4, "score_human": 4, "gold": True,
            "acceptable_human": None, "critical_ai": None, "critical_human": None}
    rows = [{**base, "item_id": "T#1", "reviewer": r, "acceptable_ai": a}
            for r, a in [("a", True), ("b", True), ("c", True), ("d", False)]]
    table = reviewer_reliability(pd.DataFrame(rows), ReviewerPolicy(min_overlap=1)).set_index("reviewer")
    assert table.loc["d", "gold_accuracy"] == 0.0 and table.loc["d", "gold_flags"] == 1
    assert table.loc["a", "gold_accuracy"] == 1.0  # others: True, True, False -> True


def test_too_little_overlap_is_not_judged():
    ratings = _panel(n_items=40)
    table = reviewer_reliability(ratings, ReviewerPolicy(min_overlap=10_000)).set_index("reviewer")
    assert not table["flagged"].any() and not table["assessable"].any()


def test_agreement_report_and_file_are_deterministic(tmp_path):
    ratings = _panel(seed=1)
    report = agreement_report(ratings, ReviewerPolicy(), 2000, 0.95, np.random.default_rng(0))
    assert report["flagged_reviewers"] == ["careless", "harsh"]
    assert report["reliable_reviewers"]["overall"]["alpha"] > report["all_reviewers"]["overall"]["alpha"]
    assert set(report["all_reviewers"]["categories"]) == {"c"}
    lines = [UnblindedRating(rating_id=f"r{i}", **row).model_dump_json() for i, row in enumerate(
        ratings.to_dict(orient="records"))]
    (tmp_path / "ratings.jsonl").write_text("\n".join(lines) + "\n")
    agreement_to_file(tmp_path, load_policy(None))
    first = (tmp_path / "agreement.json").read_bytes()
    agreement_to_file(tmp_path, load_policy(None))
    assert (tmp_path / "agreement.json").read_bytes() == first
    assert json.loads(first)["excluded_from_decisions"] == ["careless", "harsh"]


def _by_position(ratings: pd.DataFrame, values: list[str]) -> np.ndarray:
    """Reliability data for the package with no rater identity: an item's k-th rating in row k, a column
    per (value, item)."""
    slot = ratings.groupby("item_id").cumcount().to_numpy()
    columns = [pd.DataFrame({"item": ratings["item_id"], "slot": slot, "v": ratings[value].astype(float)})
               .pivot(index="slot", columns="item", values="v") for value in values]
    return pd.concat(columns, axis=1).to_numpy(dtype=float)


def test_anonymous_raters_alpha_equals_the_package_and_reliability_is_not_assessable():
    ratings = _panel(seed=2).assign(reviewer=None)
    report = agreement_report(ratings, ReviewerPolicy(), 2000, 0.95, np.random.default_rng(0))
    ref = krippendorff.alpha(reliability_data=_by_position(ratings, ["score_ai", "score_human"]),
                             level_of_measurement="ordinal")
    assert report["all_reviewers"]["overall"]["alpha"] == pytest.approx(ref, abs=1e-9)
    assert report["reviewers"] == [] and report["flagged_reviewers"] == report["excluded_from_decisions"] == []
    assert report["anonymous_ratings"] == len(ratings)
    assert report["reviewer_reliability"] == (f"not assessable: all {len(ratings)} ratings are anonymous "
                                              "(reviewer: null), so nobody is left out")
    assert reviewer_exclusion(ratings, ReviewerPolicy()).note().startswith("reviewer reliability not assessable")


def test_preference_only_alpha_is_ordinal_on_human_tie_ai_as_the_package_computes_it():
    rng = np.random.default_rng(3)
    truth = rng.choice(["ai", "human", "tie_good"], 150)
    rows = [{"item_id": f"T{i}#1", "category": "c", "reviewer": None, "score_ai": None, "score_human": None,
             "preference": truth[i] if rng.random() < 0.7 else str(rng.choice(list(PREFERENCE_VALUES)))}
            for i in range(150) for _ in range(int(rng.integers(1, 5)))]
    ratings = pd.DataFrame(rows)
    assert rated_on(ratings) == "preferences"
    ours = item_alpha(agreement_units(ratings), 0, 0.95, None).alpha
    coded = ratings.assign(code=ratings["preference"].map(PREFERENCE_VALUES))
    ref = krippendorff.alpha(reliability_data=_by_position(coded, ["code"]), level_of_measurement="ordinal")
    assert ours == pytest.approx(ref, abs=1e-9)


def test_named_reviewers_are_judged_beside_anonymous_ratings_that_are_all_kept():
    ratings = _panel(seed=1)
    ratings["reviewer"] = ratings["reviewer"].where(ratings["reviewer"] != "careless", None)
    exclusion = reviewer_exclusion(ratings, ReviewerPolicy())
    assert exclusion.excluded == ["harsh"] and exclusion.anonymous == int(ratings["reviewer"].isna().sum())
    assert set(exclusion.reliability["reviewer"]) == {"qa_1", "qa_2", "qa_3", "qa_4", "harsh"}
    assert exclusion.note() == (f"reviewer reliability not assessable for the {exclusion.anonymous} anonymous ratings "
                                "(reviewer: null), which are all kept; assessed for the 5 named reviewer(s); "
                                "1 reviewer(s) flagged unreliable and left out of these decisions: harsh")


def _preference_panel(seed: int = 4, n_items: int = 200) -> pd.DataFrame:
    """Preference-only ratings: three careful reviewers give the item's true preference 90% of the time, an
    erratic one prefers at random; every item is rated by two careful reviewers and, on most, the erratic one."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(["ai", "human", "tie_good"], n_items)
    rows = []
    for i in range(n_items):
        who = list(rng.choice(["qa_1", "qa_2", "qa_3"], 2, replace=False)) + (["erratic"] if rng.random() < 0.8 else [])
        for r in who:
            pref = truth[i] if r != "erratic" and rng.random() < 0.9 else str(rng.choice(["ai", "human", "tie_good"]))
            rows.append({"item_id": f"T{i}#1", "ticket_id": f"T{i}", "category": "c", "reviewer": r, "score_ai": None,
                         "score_human": None, "preference": pref, "gold": False, "acceptable_ai": None,
                         "acceptable_human": None, "critical_ai": None, "critical_human": None})
    return pd.DataFrame(rows)


def test_an_erratic_reviewer_of_preference_only_ratings_is_judged_on_preferences_and_left_out():
    ratings = _preference_panel()
    table = reviewer_reliability(ratings, ReviewerPolicy()).set_index("reviewer")
    assert table["assessable"].all() and table.loc["erratic", "overlap_units"] == (ratings["reviewer"] == "erratic").sum()
    assert table.loc["erratic", "flagged"] and not table.loc[["qa_1", "qa_2", "qa_3"], "flagged"].any()
    assert any(r.startswith("preferences track the other reviewers weakly") for r in table.loc["erratic", "reasons"])
    assert (table.loc[["qa_1", "qa_2", "qa_3"], "consensus_spearman"] > 0.6).all()
    exclusion = reviewer_exclusion(ratings, ReviewerPolicy())
    assert exclusion.excluded == ["erratic"] and exclusion.note().endswith("left out of these decisions: erratic")
    report = agreement_report(ratings, ReviewerPolicy(), 2000, 0.95, np.random.default_rng(0))
    assert report["reliable_reviewers"]["overall"]["alpha"] > report["all_reviewers"]["overall"]["alpha"]
    assert report["reliable_reviewers"]["overall"]["rated"] == "preferences"
