"""Follow-up rounds drawn where the automatic evidence is least certain, and the stratified estimates
that keep them unbiased (eval.decide.design, eval.ratings.active, eval.stats.ppi strata)."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eval.decide import decide_to_file
from eval.decide.design import certainty_strata, interleaved, round_fractions
from eval.errors import UserError
from eval.judges.precomputed import ImportedVerdict
from eval.policy import Policy
from eval.ratings.packets import PacketSpec, write_packets
from eval.report.words import design_sentence
from eval.records import BlindKey, Item, Score
from eval.stats.ppi import ppi_mean, stratified_rate_upper
from eval.store import read_jsonl, write_jsonl
from test_packets import REVIEWERS, make_run


def _auto(**cols: list[float]) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    base = {c: [np.nan] * n for c in ("rubric_ai", "rubric_human", "rubric_crit_ai", "rubric_crit_human",
                                      "judge_win", "judge_score_ai", "judge_score_human", "judge_critical_ai")}
    return pd.DataFrame({**base, **cols})


def test_strata_mark_ties_disagreements_flags_and_missing_verdicts_unclear() -> None:
    auto = _auto(judge_win=[1.0, 0.0, 0.5, np.nan, 1.0, 1.0], rubric_ai=[0.9, 0.2, 0.9, 0.9, 0.2, 0.9],
                 rubric_human=[0.5, 0.6, 0.5, 0.5, 0.8, 0.5], judge_critical_ai=[0, 0, 0, 0, 0, 1])
    assert list(certainty_strata(auto)) == ["clear", "clear", "unclear", "unclear", "unclear", "unclear"]
    rubric_only = _auto(rubric_ai=[0.9, 0.55, 0.9], rubric_human=[0.5, 0.5, 0.5], rubric_crit_ai=[0, 0, 1])
    assert list(certainty_strata(rubric_only)) == ["clear", "unclear", "unclear"]


def test_neyman_shares_follow_the_spread_but_keep_half_the_proportional_share() -> None:
    strata = np.array(["clear"] * 800 + ["unclear"] * 200)
    drawn = np.zeros(1000, bool)
    drawn[:80], drawn[800:820] = True, True
    values = np.full(1000, np.nan)
    rng = np.random.default_rng(0)
    values[:80], values[800:820] = rng.normal(0, 0.3, 80), rng.normal(0, 2.0, 20)
    f = round_fractions(strata, drawn, values, 200)
    assert f["unclear"] > 0.5 and sum(f.values()) == pytest.approx(1.0)  # 20% of items, by far the largest spread
    flat = round_fractions(strata, drawn, np.where(np.isnan(values), np.nan, 1.0), 200)  # no spread: fallback
    assert flat["clear"] == pytest.approx(0.8, abs=0.01)
    # an unclear stratum with tiny spread still gets half its proportional share of the cumulative sample
    values[800:820] = rng.normal(0, 0.001, 20)
    low = round_fractions(strata, drawn, values, 200)
    assert 20 + 200 * low["unclear"] >= 0.5 * 0.2 * 300 - 1


def test_interleaving_gives_every_prefix_its_shares_and_keeps_each_stratum_in_shuffled_order() -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"item_id": [f"i{j}" for j in range(300)],
                          "stratum": rng.choice(["clear", "unclear"], 300, p=[0.7, 0.3])})
    out = interleaved(frame, {"clear": 0.4, "unclear": 0.6})
    for n in (10, 50, 101, 150):
        head = out.head(n)["stratum"]
        assert abs((head == "unclear").sum() - 0.6 * n) <= 1 or (head == "unclear").sum() == (frame["stratum"] == "unclear").sum()
    for h in ("clear", "unclear"):
        assert list(out[out["stratum"] == h]["item_id"]) == list(frame[frame["stratum"] == h]["item_id"])


def test_stratified_mean_equals_the_textbook_estimator_and_one_stratum_changes_nothing() -> None:
    rng = np.random.default_rng(2)
    n_items = 400
    strata = np.where(np.arange(n_items) < 300, "a", "b")
    y = np.full(n_items, np.nan)
    rated = np.r_[rng.choice(300, 30, replace=False), 300 + rng.choice(100, 40, replace=False)]
    y[rated] = rng.normal(np.where(strata[rated] == "a", 0.0, 1.0), 1.0)
    f, tickets = rng.normal(0, 1, n_items), np.arange(n_items)
    r = ppi_mean(y, f, tickets, lam=0.0, strata=strata)
    w = {"a": 0.75, "b": 0.25}
    means = {h: y[rated][strata[rated] == h].mean() for h in w}
    var = sum(w[h] ** 2 * y[rated][strata[rated] == h].var(ddof=1) * (len(y[rated][strata[rated] == h]) - 1)
              / len(y[rated][strata[rated] == h]) ** 2 for h in w)
    assert r.estimate == pytest.approx(sum(w[h] * means[h] for h in w), abs=1e-12)
    assert r.se == pytest.approx(np.sqrt(var * 70 / 69), rel=1e-9)
    one = ppi_mean(y, f, tickets)
    assert ppi_mean(y, f, tickets, strata=np.zeros(n_items)) == one
    assert np.isnan(ppi_mean(np.where(strata == "b", np.nan, y), f, tickets, strata=strata).estimate)


def _active_run(rng: np.random.Generator, n0: int, n1: int, active: bool) -> tuple[float, float, float, float]:
    """One category of 3,000 items in two certainty strata (unclear: 25%, AI much worse and noisier there), two
    rounds of ratings (uniform, then Neyman or uniform); (stratified estimate, its SE, naive mean, truth). The
    truth is the mean the items are drawn from: the estimand of ticket-clustered SEs, which count the unrated
    items' predictions as a sample too (against the 3,000 items' own mean they are conservative)."""
    n = 3000
    unclear = rng.random(n) < 0.25
    strata = np.where(unclear, "unclear", "clear")
    truth_item = np.where(unclear, rng.normal(-0.8, 1.5, n), rng.normal(0.1, 0.3, n))
    f = truth_item + rng.normal(0, np.where(unclear, 1.2, 0.25))
    drawn = np.zeros(n, bool)
    drawn[rng.choice(n, n0, replace=False)] = True
    values = np.where(drawn, truth_item + rng.normal(0, 0.3, n), np.nan)
    if active:
        shares = round_fractions(strata, drawn, values, n1)
        for h, share in shares.items():
            left = np.flatnonzero((strata == h) & ~drawn)
            drawn[rng.choice(left, min(round(share * n1), left.size), replace=False)] = True
    else:
        drawn[rng.choice(np.flatnonzero(~drawn), n1, replace=False)] = True
    y = np.where(drawn, truth_item + rng.normal(0, 0.3, n), np.nan)
    r = ppi_mean(y, f, np.arange(n), strata=strata if active else None)
    return r.estimate, r.se, float(np.nanmean(y)), 0.25 * -0.8 + 0.75 * 0.1


def test_active_rounds_cover_the_planted_mean_and_are_narrower_than_uniform_ones() -> None:
    """200 runs of each design; 95% intervals (the t quantile at the runs' ~300 tickets)."""
    rng = np.random.default_rng(5)
    act = np.array([_active_run(rng, 150, 150, True) for _ in range(200)])
    uni = np.array([_active_run(rng, 150, 150, False) for _ in range(200)])
    covered = np.abs(act[:, 0] - act[:, 3]) <= 1.97 * act[:, 1]
    assert 0.92 <= covered.mean() <= 0.985
    assert np.median(act[:, 1]) < 0.9 * np.median(uni[:, 1])  # the point of drawing where it is unclear
    naive_bias = np.mean(act[:, 2] - act[:, 3])
    assert naive_bias < -0.15  # unweighted, the over-sampled bad stratum drags the mean down: the weights matter


def test_stratified_critical_bound_covers_when_failures_hide_in_the_less_sampled_stratum() -> None:
    rng = np.random.default_rng(6)
    n, misses = 4000, 0
    for _ in range(300):
        clear = rng.random(n) < 0.8
        fail = np.where(clear, rng.random(n) < 0.03, rng.random(n) < 0.002)  # failures where sampling is thin
        p = np.where(clear, 120 / 3200, 200 / 800)
        y = np.where(rng.random(n) < p, fail.astype(float), np.nan)
        if stratified_rate_upper(y, np.where(clear, "clear", "unclear"), 0.95).upper < fail.mean():
            misses += 1
    assert misses / 300 <= 0.05


def _judge(run: Path, flip: str | None = None) -> None:
    """A tie (unclear) on every fourth ticket, elsewhere the answer the rubric prefers (clear)."""
    items = list(read_jsonl(run / "items.jsonl", Item))
    rubric = {(s.item_id, s.side): s.score for s in read_jsonl(run / "scores.jsonl", Score)}
    rows = []
    for line, item in enumerate(items, start=1):
        better = "ai" if rubric[item.item_id, "ai"] >= rubric[item.item_id, "human"] else "human"
        pref = "tie" if int(item.ticket_id[-2:]) % 4 == 0 else better
        if item.item_id == flip:
            pref = better if pref == "tie" else "tie"
        rows.append(ImportedVerdict(item_id=item.item_id, preference=pref, judge="j", category=item.category,
                                    source_file="judge.jsonl", line=line))
    write_jsonl(run / "judge.jsonl", rows)


def _rate(run: Path, keys: list[BlindKey]) -> None:
    rows = []
    for k in keys:
        unclear = int(k.item_id[1:].split("#")[0][-2:]) % 4 == 0
        ai = int(np.clip(3 + (-(zlib.crc32(k.rating_id.encode()) % 3) if unclear else 1), 1, 5))
        rows.append({"rating_id": k.rating_id, "item_id": k.item_id, "ticket_id": k.item_id.split("#")[0],
                     "category": {"0": "order_status", "1": "refund_request", "2": "fraud_report"}[k.item_id[1]],
                     "reviewer": k.reviewer, "score_ai": ai, "score_human": 3, "acceptable_ai": ai >= 3,
                     "acceptable_human": True, "critical_ai": False, "critical_human": False})
    (run / "ratings.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_a_follow_up_round_records_strata_and_probabilities_and_decide_weighs_by_them(tmp_path: Path) -> None:
    run = make_run(tmp_path, per_category=200)
    _judge(run)
    policy = Policy(min_rated=20, critical_ub_automate=0.1)
    write_packets(run, PacketSpec(REVIEWERS, 400), policy, seed=1)
    first = list(read_jsonl(run / "key.jsonl", BlindKey))
    assert {k.stratum for k in first} == {None} and all(k.probability for k in first)
    _rate(run, first)
    (run / "decisions.json").write_text(json.dumps({"categories": [
        {"category": "order_status", "tier": "automate", "ratings_needed": 0},
        {"category": "refund_request", "tier": "assist", "ratings_needed": 60},
        {"category": "fraud_report", "tier": "human", "ratings_needed": None}]}))
    write_packets(run, PacketSpec(REVIEWERS, 400), policy, seed=1)
    key = list(read_jsonl(run / "key.jsonl", BlindKey))
    drawn = {k.item_id: k for k in key if k.round == 1}
    new = {i: k for i, k in drawn.items() if i.startswith("T1")}  # refund_request, the only unsettled one
    assert len(new) == 60 and {k.stratum for k in new.values()} == {"clear", "unclear"}
    audits = [k for i, k in drawn.items() if not i.startswith("T1")]  # settled: 20 uniform audit items each
    assert len(audits) == 2 * policy.settled_audit_items and {k.stratum for k in audits} == {None}
    prob = {k.stratum: k.probability for k in new.values()}
    assert prob["unclear"] > prob["clear"]  # drawn where the judge calls a tie: the spread is there
    _rate(run, key)
    decisions = decide_to_file(run, policy, seed=0)
    refund = next(c for c in decisions.categories if c.category == "refund_request")
    assert refund.estimates["diff_mean"]["method"].startswith("stratified")
    assert refund.estimates["critical_ai"]["method"] == "stratified exact"
    assert {s["stratum"] for s in refund.estimates["design"]["strata"]} == {"clear", "unclear"}
    assert "Follow-up ratings went where the automatic evidence is least certain" in design_sentence(refund)
    other = next(c for c in decisions.categories if c.category == "order_status")
    assert "design" not in other.estimates
    _judge(run, flip=next(iter(new)))
    with pytest.raises(UserError, match="key.jsonl: item .* was drawn in stratum"):
        decide_to_file(run, policy, seed=0)
