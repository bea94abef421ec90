"""Decisions from single-answer reviews: kinds of evidence, closed-form estimates, the unpaired cap, a planted
confounder, and the real FED ratings (unpaired, 0-4 scale, anonymous raters)."""

from __future__ import annotations

import json
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
import pytest

from typer.testing import CliRunner

from eval.cli import app
from eval.decide import decide, decide_to_file
from eval.decide.unpaired import unpaired_estimates
from eval.policy import Policy
from eval.ratings.importer import read_ratings
from eval.ratings.reviews import COLUMNS
from eval.records import CategoryDecision, UnblindedReview
from eval.run.folder import RunFolder
from eval.stats import rounded

SIDE = {"replayed": "ai", "historical": "human"}


def _review(n: int, item: str, cat: str, answer: str, source: str, score: float, reviewer: str | None = None,
            acceptable: bool | None = True, critical: bool | None = False) -> dict:
    return {"review_id": f"rv{n}", "item_id": item, "ticket_id": item.split("#")[0], "category": cat,
            "side": SIDE[answer], "answer": answer, "source": source, "reviewer": reviewer, "score": score,
            "acceptable": acceptable, "critical": critical}


def _frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _items(reviews: pd.DataFrame) -> pd.DataFrame:
    return reviews[["item_id", "ticket_id", "category"]].drop_duplicates("item_id").reset_index(drop=True)


def _no_ratings() -> pd.DataFrame:
    return read_ratings(Path("/nonexistent/ratings.jsonl"))


def _decide(reviews: pd.DataFrame, policy: Policy, ratings: pd.DataFrame | None = None,
            items: pd.DataFrame | None = None):
    items = _items(reviews) if items is None else items
    ratings = _no_ratings() if ratings is None else ratings
    out = decide(ratings, items, None, policy, np.random.default_rng(0), reviews=reviews)
    return {c.category: c for c in out.categories}


def _paired_reviews(cat: str, n_items: int, rng: np.random.Generator) -> list[dict]:
    """Both answers of each item reviewed twice, by agreeing reviewers (integer scores)."""
    rows: list[dict] = []
    for i in range(n_items):
        q = float(rng.integers(2, 5))
        for answer, source in (("replayed", "ai"), ("historical", "human")):
            for r in range(2):
                rows.append(_review(len(rows), f"{cat}{i}#1", cat, answer, source, q, f"qa{r}"))
    return rows


def test_reviews_paired_by_item_closed_form():
    rows = [
        _review(0, "T1#1", "c", "replayed", "ai", 4.0, "a"), _review(1, "T1#1", "c", "replayed", "ai", 2.0, "b"),
        _review(2, "T1#1", "c", "historical", "human", 5.0, "c"),
        _review(3, "T2#1", "c", "replayed", "ai", 3.0, None), _review(4, "T2#1", "c", "historical", "human", 2.0, None),
        _review(5, "T2#3", "c", "replayed", "ai", 5.0, None, acceptable=False, critical=True),
        _review(6, "T2#3", "c", "historical", "human", 4.0, None),
        _review(7, "T3#1", "c", "replayed", "ai", 1.0, None),  # one side only: not paired
    ]
    d = _decide(_frame(rows), Policy(min_rated=3))["c"]
    assert d.evidence == "reviews_paired" and d.rated_items == 3
    est = d.estimates
    assert est["mean_ai"]["estimate"] == pytest.approx((3 + 3 + 5) / 3)  # per item mean first: (4+2)/2 = 3
    assert est["mean_human"]["estimate"] == pytest.approx((5 + 2 + 4) / 3)
    assert est["diff_mean"]["estimate"] == pytest.approx(((3 - 5) + (3 - 2) + (5 - 4)) / 3)
    assert est["acceptable_ai"]["estimate"] == pytest.approx(2 / 3)
    assert (est["critical_ai"]["k"], est["critical_ai"]["n"]) == (1, 3)
    assert est["win_rate_ai"]["n"] == 0
    assert d.other_evidence is None  # human reviews of recorded answers alone are no unpaired comparison


def test_unpaired_difference_of_means_closed_form():
    units = pd.DataFrame({
        "item_id": ["A#1", "A#3", "B#1", "C#1", "D#1", "E#1"], "ticket_id": ["A", "A", "B", "C", "D", "E"],
        "group": ["ai", "ai", "ai", "human", "human", "human"], "score": [4.0, 5.0, 3.0, 2.0, 4.0, 3.0],
        "acc": [1.0, 1.0, 0.0, 0.0, 1.0, np.nan], "crit": [0.0, 0.0, 1.0, 0.0, 0.0, np.nan],
    })
    est = unpaired_estimates(units, None, Policy(), np.random.default_rng(0))
    assert est is not None
    e = est.estimates
    assert e["mean_ai"]["estimate"] == pytest.approx(4.0) and e["mean_human"]["estimate"] == pytest.approx(3.0)
    assert e["diff_mean"]["estimate"] == pytest.approx(1.0)
    assert e["diff_acceptable"]["estimate"] == pytest.approx(2 / 3 - 1 / 2)
    assert (e["critical_ai"]["k"], e["critical_ai"]["n"]) == (1, 3)
    # nothing known about the tickets: the weights are constant and the adjusted estimate is the raw one
    assert e["diff_mean_adjusted"]["estimate"] == pytest.approx(1.0)
    assert e["unpaired"]["covariates"] == [] and est.rated_items == 3 and est.tickets == 5
    assert e["diff_mean"]["low"] < 1.0 < e["diff_mean"]["high"]


def _ratings(cat: str, n_items: int, rng: np.random.Generator) -> pd.DataFrame:
    """Paired blind ratings of ``n_items`` items, each by two agreeing reviewers."""
    rows = []
    for i in range(n_items):
        q = int(rng.integers(2, 5))
        for r in range(2):
            rows.append({"rating_id": f"r{cat}{i}", "item_id": f"{cat}{i}#1", "ticket_id": f"{cat}{i}", "category": cat,
                         "reviewer": f"qa{r}", "score_ai": q, "score_human": q, "preference": "tie_good",
                         "acceptable_ai": True, "acceptable_human": True, "critical_ai": False, "critical_human": False,
                         "gold": False, "seconds": None, "comment": None})
    return pd.DataFrame(rows, columns=_no_ratings().columns)


def _unpaired_reviews(cat: str, n_tickets: int, rng: np.random.Generator) -> list[dict]:
    """Recorded answers of different tickets, half bot-handled, each reviewed by three agreeing anonymous raters."""
    rows: list[dict] = []
    for t in range(n_tickets):
        q = float(rng.integers(2, 5))
        for _ in range(3):
            rows.append(_review(len(rows), f"{cat}u{t}#1", cat, "historical", "ai" if t % 2 == 0 else "human", q))
    return rows


def test_strongest_kind_with_enough_items_decides_and_the_others_are_shown():
    rng = np.random.default_rng(3)
    policy = Policy(min_rated=20)
    ratings = pd.concat([_ratings("rated", 30, rng), _ratings("reviewed", 5, rng)], ignore_index=True)
    reviews = _frame(_paired_reviews("rated", 25, rng) + _paired_reviews("reviewed", 25, rng)
                     + _unpaired_reviews("reviewed", 60, rng) + _unpaired_reviews("observed", 60, rng)
                     + _paired_reviews("thin", 5, rng) + _unpaired_reviews("thin", 12, rng))
    items = pd.concat([_items(reviews), ratings[["item_id", "ticket_id", "category"]]]).drop_duplicates("item_id")
    d = _decide(reviews, policy, ratings, items=items)
    assert {c: d[c].evidence for c in d} == {"rated": "paired_ratings", "reviewed": "reviews_paired",
                                              "observed": "reviews_unpaired", "thin": "reviews_paired"}
    assert d["rated"].rated_items == 30 and set(d["rated"].other_evidence or {}) == {"reviews_paired"}
    alone = decide(ratings, items, None, policy, np.random.default_rng(0)).categories
    same = [rounded(c.estimates) for c in (next(c for c in alone if c.category == "rated"), d["rated"])]
    assert same[0] == same[1]  # the same bootstrap draws with reviews beside the ratings as without
    assert all(c.evidence is None and c.other_evidence is None for c in alone)
    others = d["reviewed"].other_evidence or {}
    assert set(others) == {"paired_ratings", "reviews_unpaired"}
    assert others["paired_ratings"]["rated_items"] == 5 and others["reviews_unpaired"]["rated_items"] == 30
    assert "diff_mean_adjusted" in others["reviews_unpaired"] and d["observed"].other_evidence is None
    assert d["thin"].tier == "human" and d["thin"].ratings_needed == 15
    gates = {r.gate: r for r in d["observed"].reasons}
    assert not gates["unpaired_evidence"].passed and "unpaired, observational" in gates["unpaired_evidence"].text
    assert "unpaired_evidence" not in {r.gate for r in d["reviewed"].reasons}


def test_unpaired_evidence_alone_never_automates_by_default():
    """A bot as good as people by every gate, on plenty of agreeing reviews of different tickets."""
    reviews = _frame(_unpaired_reviews("faq", 600, np.random.default_rng(5)))
    held = _decide(reviews, Policy(min_rated=40))["faq"]
    gates = {r.gate: r.passed for r in held.reasons}
    assert held.evidence == "reviews_unpaired" and held.tier == "assist"
    assert all(gates[g] for g in ("non_inferiority", "critical_automate", "acceptable_diff", "reviewer_alpha"))
    assert not gates["unpaired_evidence"] and held.ratings_needed is None
    assert "cannot reach automate" in held.ratings_needed_text
    allowed = _decide(reviews, Policy(min_rated=40, unpaired_may_automate=True))["faq"]
    assert allowed.tier == "automate" and dict((r.gate, r.passed) for r in allowed.reasons)["unpaired_evidence"]


def _planted_confounding(rng: np.random.Generator, effect: float, n_tickets: int = 200) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reviewed recorded answers where the bot got the easier tickets: chat and short first messages are
    both likelier to go to the bot and easier to answer well. True AI - human effect: ``effect``."""
    chat = rng.random(n_tickets) < 0.5
    chars = (np.exp(rng.normal(4.5, 0.8, n_tickets)) + 5).astype(int)
    z = (np.log(chars) - 4.5) / 0.8
    bot = rng.random(n_tickets) < 1 / (1 + np.exp(-(1.2 * chat - 1.0 * z - 0.2)))
    items = rng.integers(1, 3, n_tickets)
    t = np.repeat(np.arange(n_tickets), items)
    turn = np.arange(len(t)) - np.searchsorted(t, t)
    quality = 3.4 + 0.6 * chat[t] - 0.5 * z[t] + effect * bot[t] + rng.normal(0, 0.5, len(t))
    score = quality + rng.normal(0, 0.5, (2, len(t))).mean(axis=0)  # two reviewers, averaged
    tickets = pd.Series(t).map("T{:04d}".format)
    units = pd.DataFrame({"item_id": tickets + "#" + pd.Series(turn).astype(str), "ticket_id": tickets,
                          "group": np.where(bot[t], "ai", "human"), "score": score, "acc": (quality > 3).astype(float),
                          "crit": 0.0})
    cov = pd.DataFrame({"ticket_id": pd.Series(np.arange(n_tickets)).map("T{:04d}".format),
                        "channel": np.where(chat, "chat", "email"), "language": "en", "first_message_chars": chars})
    return units, cov


def test_planted_confounder_adjusted_interval_recovers_the_effect_raw_does_not():
    """200 runs: the bot gets the easier tickets; the planted effect is -0.3 on the 1-5 scale."""
    rng, effect, runs = np.random.default_rng(11), -0.3, 200
    policy = Policy()
    covered = {"diff_mean": 0, "diff_mean_adjusted": 0}
    for _ in range(runs):
        units, cov = _planted_confounding(rng, effect)
        est = unpaired_estimates(units, cov, policy, rng)
        assert est is not None
        for name in covered:
            covered[name] += est.estimates[name]["low"] <= effect <= est.estimates[name]["high"]
    rates = {name: hits / runs for name, hits in covered.items()}
    print(f"interval contains the planted effect: {rates}")
    assert rates["diff_mean_adjusted"] >= 0.90 and rates["diff_mean"] < 0.5


def _fed_run(run: Path, realdata: Path) -> list[dict]:
    """A run folder from FED's turn-level records: each record a ticket whose context lines are its customer
    and agent turns and whose response is the agent turn under review (bot-handled for Meena and Mitsuku);
    its five anonymous ``Overall`` ratings (0-4) become a review file read on its own scale."""
    records = [r for r in json.loads((realdata / "fed" / "fed_data.json").read_text()) if "response" in r]
    tickets, items, reviews = [], [], []
    for i, rec in enumerate(records):
        bot = rec["system"] != "Human"
        turns = []
        for line in [*rec["context"].split("\n"), rec["response"]]:
            speaker, _, text = line.partition(": ")
            turn = {"role": "customer" if speaker == "User" else "agent", "text": text.strip() or "(empty)"}
            if turn["role"] == "agent":
                turn |= {"author": rec["system"].lower()} | ({"author_type": "bot"} if bot else {})
            turns.append(turn)
        tid, last = f"FED{i:03d}", len(turns) - 1
        tickets.append({"ticket_id": tid, "category": "chitchat", "turns": turns, "metadata": {"system": rec["system"]}})
        items.append({"item_id": f"{tid}#{last}", "ticket_id": tid, "turn_index": last, "category": "chitchat",
                      "context": turns[:-1], "human": {"text": turns[-1]["text"], "author": turns[-1]["author"]},
                      "ai": {"text": None, "responder": "none", "error": "not replayed"}, "metadata": {}})
        reviews += [{"review_id": f"{tid}-{k}", "item_id": f"{tid}#{last}", "answer": "historical",
                     "source": "ai" if bot else "human", "reviewer": None, "score": score}
                    for k, score in enumerate(rec["annotations"]["Overall"])]
    for name, rows in (("tickets.jsonl", tickets), ("items.jsonl", items), ("fed_reviews.jsonl", reviews)):
        (run / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return records


def test_fed_unpaired_reviews_decide_and_report(tmp_path, realdata):
    """Through the CLI, as a user runs it on a folder `run` made: import on FED's 0-4 scale, decide, report."""
    records = _fed_run(tmp_path, realdata)
    folder = RunFolder(tmp_path)
    (tmp_path / "config.yaml").write_text("name: fed\ndata: {paths: [tickets.jsonl]}\n")
    (tmp_path / "manifest.json").write_text(json.dumps({"config_path": str(tmp_path / "config.yaml")}))
    cli = CliRunner()
    imported = cli.invoke(app, ["ratings", "import", str(tmp_path), "--reviews", str(tmp_path / "fed_reviews.jsonl"),
                                "--scale", "0", "4"])
    assert imported.exit_code == 0, imported.output
    assert f"{5 * len(records)} reviews read, 1875 kept" in imported.output
    assert cli.invoke(app, ["decide", str(tmp_path)]).exit_code == 0
    decision = CategoryDecision.model_validate(json.loads(folder.decisions.read_text())["categories"][0])
    est, u = decision.estimates, decision.estimates["unpaired"]
    gates = {r.gate: r for r in decision.reasons}
    print(f"FED: tier {decision.tier}, alpha {gates['reviewer_alpha'].value:.3f}, AI - human "
          f"{est['diff_mean']['estimate']:+.3f} ({est['diff_mean']['low']:+.3f} to {est['diff_mean']['high']:+.3f}), "
          f"adjusted {est['diff_mean_adjusted']['estimate']:+.3f}; {gates['unpaired_evidence'].text}")
    assert decision.evidence == "reviews_unpaired" and decision.tier != "automate"
    assert (u["items_ai"], u["items_human"]) == (252, 123) and decision.rated_items == 123
    assert est["mean_ai"]["estimate"] == pytest.approx(
        1 + np.mean([np.mean(r["annotations"]["Overall"]) for r in records if r["system"] != "Human"]))
    overall = np.array([r["annotations"]["Overall"] for r in records], dtype=float).T + 1
    assert gates["reviewer_alpha"].value == pytest.approx(
        krippendorff.alpha(reliability_data=overall, level_of_measurement="ordinal"), abs=1e-6)  # decisions.json: 6 places
    assert not gates["unpaired_evidence"].passed and not gates["critical_assist"].passed
    assert cli.invoke(app, ["report", str(tmp_path)]).exit_code == 0
    assert "Decided on single-answer reviews of different tickets (unpaired, observational): the bot got " \
           "different tickets." in folder.report_md.read_text()
    assert 'data-field="evidence" data-value=\'"reviews_unpaired"\'' in folder.report_html.read_text()


def _screened_reviews(rng: np.random.Generator, n_items: int = 60) -> list[dict]:
    """Both answers of each item reviewed by qa0 and qa1 (agreeing), by an erratic reviewer at random, and by
    an anonymous rater."""
    rows = _paired_reviews("c", n_items, rng)
    for i in range(n_items):
        for answer, source in (("replayed", "ai"), ("historical", "human")):
            rows.append(_review(len(rows), f"c{i}#1", "c", answer, source, float(rng.integers(1, 6)), "erratic"))
            rows.append(_review(len(rows), f"c{i}#1", "c", answer, source, 3.0))
    return rows


def test_an_erratic_reviewer_of_reviews_is_named_and_left_out_and_anonymous_reviews_are_kept(tmp_path):
    rows = _screened_reviews(np.random.default_rng(21))
    reviews = _frame(rows)
    folder = RunFolder(tmp_path)
    folder.items.write_text("".join(json.dumps(r) + "\n" for r in _items(reviews).to_dict(orient="records")))
    folder.reviews.write_text("".join(UnblindedReview(**r, source_file="f.jsonl", line=i + 1).model_dump_json() + "\n"
                                      for i, r in enumerate(rows)))
    decisions = decide_to_file(tmp_path, Policy(min_rated=3), seed=0)
    agreement = json.loads(folder.agreement.read_text())["reviews"]
    assert agreement["flagged_reviewers"] == agreement["excluded_from_decisions"] == ["erratic"]
    assert agreement["anonymous_reviews"] == 120 and {r["reviewer"] for r in agreement["reviewers"]} == {
        "erratic", "qa0", "qa1"}
    assert agreement["reviewer_reliability"].startswith("not assessable for the 120 anonymous reviews")
    assert decisions.reviewers_note.endswith("; reviews: reviewer reliability not assessable for the 120 anonymous "
                                             "reviews (reviewer: null), which are all kept; assessed for the 3 named "
                                             "reviewer(s); 1 reviewer(s) flagged unreliable and left out of these "
                                             "decisions: erratic")
    without = _decide(reviews[reviews["reviewer"] != "erratic"], Policy(min_rated=3))["c"]
    assert decisions.categories[0].estimates["diff_mean"] == without.estimates["diff_mean"]
    kept = decide(_no_ratings(), _items(reviews), None, Policy(min_rated=3, reviewers={"exclude_unreliable": False}),
                  np.random.default_rng(0), reviews=reviews)
    assert "flagged but kept (policy): erratic" in kept.reviewers_note
    assert kept.categories[0].estimates["diff_mean"] != without.estimates["diff_mean"]
