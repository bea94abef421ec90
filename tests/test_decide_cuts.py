"""Cuts by ticket metadata (``decide --by language``): planted per-language truth comes out, the
category decisions keep their bytes, thin cuts say "not enough evidence", one Holm family."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from eval import stats
from eval.cli import app
from eval.decide import decide_to_file
from eval.decide.cuts import UNKNOWN, column, cut_values
from eval.policy import PolicyError, load_policy
from eval.ratings.importer import import_ratings
from eval.report import write_report
from eval.report.words import cuts_sentence

PLANTED: dict[str, dict[str | None, tuple[float, int]]] = {
    # category: {language: (AI - human latent quality, tickets)}; None: no language in the metadata
    "refund": {"en": (0.10, 200), "de": (-0.70, 120), "fr": (0.10, 8), None: (0.10, 10)},
    "order": {"en": (0.10, 180), "de": (0.10, 180)},
}
REVIEWERS = ("qa_1", "qa_2", "qa_3", "qa_4")


def _rating(rng: np.random.Generator, rid: str, x: str, q: dict[str, float], reviewer: str) -> dict:
    p = {side: v + rng.normal(0, 0.3) for side, v in q.items()}
    s = {side: int(np.clip(np.floor(v + 0.5), 1, 5)) for side, v in p.items()}
    y = "human" if x == "ai" else "ai"
    pref = "x" if s[x] > s[y] else "y" if s[x] < s[y] else "tie_good"
    return {"rating_id": rid, "reviewer": reviewer, "score_x": s[x], "score_y": s[y], "preference": pref,
            "acceptable_x": bool(p[x] >= 3), "acceptable_y": bool(p[y] >= 3), "critical_x": False,
            "critical_y": False}


def write_run(run: Path, seed: int = 0) -> None:
    """items.jsonl (language in metadata, region too), key.jsonl, reviewer_file.jsonl, then ratings.jsonl."""
    rng = np.random.default_rng(seed)
    items: list[dict] = []
    key: list[dict] = []
    rows: list[dict] = []
    for cat, languages in PLANTED.items():
        for lang, (d, n_tickets) in languages.items():
            for t in range(n_tickets):
                tid = f"{cat}-{lang}-{t}"
                metadata = {"region": "north" if t % 2 else "south"} | ({"language": lang} if lang else {})
                for turn in range(1, rng.integers(2, 4)):
                    iid = f"{tid}#{turn}"
                    items.append({"item_id": iid, "ticket_id": tid, "turn_index": turn, "category": cat,
                                  "context": [], "human": {"text": "h"}, "ai": {"responder": "r"},
                                  "metadata": metadata})
                    q_h = float(np.clip(rng.normal(4.0, 0.7), 1, 5))
                    q = {"ai": float(np.clip(q_h + d + rng.normal(0, 0.3), 1, 5)), "human": q_h}
                    x = "ai" if rng.random() < 0.5 else "human"
                    rid = f"r{len(key)}"
                    key.append({"rating_id": rid, "item_id": iid, "x": x, "y": "human" if x == "ai" else "ai"})
                    rows += [_rating(rng, rid, x, q, str(r)) for r in rng.choice(REVIEWERS, 2, replace=False)]
    for name, data in (("items.jsonl", items), ("key.jsonl", key), ("reviewer_file.jsonl", rows)):
        (run / name).write_text("".join(json.dumps(r) + "\n" for r in data))
    import_ratings([run / "reviewer_file.jsonl"], run / "key.jsonl", run / "items.jsonl", run / "ratings.jsonl")


@pytest.fixture(scope="module")
def cut_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("cuts")
    write_run(run)
    plain = decide_to_file(run, load_policy(None), seed=7)
    plain_bytes = (run / "decisions.json").read_bytes()
    cut = decide_to_file(run, load_policy({"cut_by": ["language"]}), seed=7)
    return run, plain, plain_bytes, cut


def _cuts(decisions, category: str) -> dict:
    return {c.value: c for c in next(d for d in decisions.categories if d.category == category).cuts}


def test_the_cuts_show_the_language_where_the_ai_is_worse(cut_run):
    _, _, _, decisions = cut_run
    refund = next(d for d in decisions.categories if d.category == "refund")
    cuts = _cuts(decisions, "refund")
    assert list(cuts) == ["de", "en", "fr", UNKNOWN]  # by value, "(unknown)" last
    assert refund.tier != "automate" and cuts["en"].tier == "automate"
    de = next(r for r in cuts["de"].reasons if r.gate == "non_inferiority")
    assert cuts["de"].tier != "automate" and not de.passed and de.value < -0.25
    assert all(r.passed for c in _cuts(decisions, "order").values() for r in c.reasons if r.gate == "non_inferiority")
    assert sum(c.tickets for c in cuts.values()) == refund.tickets
    assert sum(c.rated_items for c in cuts.values()) == refund.rated_items
    assert all(c.by == "language" for c in cuts.values())


def test_a_cut_with_few_ratings_is_human_for_want_of_evidence(cut_run):
    _, _, _, decisions = cut_run
    fr = _cuts(decisions, "refund")["fr"]
    failed = [r.gate for r in fr.reasons if not r.passed]
    assert fr.tier == "human" and failed[0] == "min_rated" and fr.ratings_needed == 40 - fr.rated_items
    assert "fr human (not enough evidence)" in cuts_sentence(next(d for d in decisions.categories
                                                                  if d.category == "refund"))


def test_without_cuts_decisions_json_has_no_trace_of_them_and_the_categories_do_not_move(cut_run):
    run, plain, plain_bytes, cut = cut_run
    assert b"cut" not in plain_bytes and all(c.cuts is None for c in plain.categories)
    with_cuts = json.loads((run / "decisions.json").read_bytes())
    assert with_cuts["policy"].pop("cut_by") == ["language"]
    fields = {"by", "value", "tier", "tickets", "rated_items", "estimates", "reasons", "ratings_needed"}
    for c in with_cuts["categories"]:
        assert fields <= set(c.pop("cuts")[0])
    original = json.loads(plain_bytes)
    assert with_cuts.pop("method").startswith(original.pop("method") + "\n\n")
    assert with_cuts == original
    decide_to_file(run, load_policy(None), seed=7)
    assert (run / "decisions.json").read_bytes() == plain_bytes


def test_one_holm_family_across_the_cuts_of_every_category(cut_run):
    _, _, _, decisions = cut_run
    tested = [next(r for r in c.reasons if r.gate == "non_inferiority") for d in decisions.categories for c in d.cuts]
    tested = [r for r in tested if r.p_adjusted is not None]
    assert len(tested) == 4  # refund en, de and order en, de; fr and (unknown) lack ratings
    holm = stats.holm(np.array([r.p_value for r in tested]), 0.025)
    assert [r.p_adjusted for r in tested] == pytest.approx(holm.adjusted.tolist())
    assert sorted(r.level for r in tested) == pytest.approx([0.025 / 4, 0.025 / 3, 0.025 / 2, 0.025])


def test_cut_keys_are_checked_and_read_from_either_path(tmp_path):
    with pytest.raises(PolicyError, match="key 'cut_by'"):
        load_policy({"cut_by": ["language", "language"]})
    rows = [{"item_id": "a#1", "metadata": {"language": "en"}}, {"item_id": "b#1", "metadata": {"language": ""}},
            {"item_id": "c#1"}]
    (tmp_path / "text.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    rows.append({"item_id": "d#1", "metadata": {"language": 3}})  # not text: the record reader
    (tmp_path / "mixed.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    values = ["en", UNKNOWN, UNKNOWN]
    assert cut_values(tmp_path / "text.jsonl", ["language"])[column("language")].tolist() == values
    assert cut_values(tmp_path / "mixed.jsonl", ["language"])[column("language")].tolist() == [*values, "3"]


def test_decide_by_prints_the_cut_rows_and_overrides_the_config(tmp_path):
    write_run(tmp_path)
    config = tmp_path / "config.yaml"
    config.write_text("name: t\ndata: {paths: [t.jsonl]}\nrubrics: {path: r}\npolicy: {cut_by: [language]}\n")
    (tmp_path / "manifest.json").write_text(json.dumps({"config_path": str(config)}))
    res = CliRunner().invoke(app, ["decide", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "└ language=de" in res.output and "└ language=fr" in res.output and "not enough evidence" in res.output
    res = CliRunner().invoke(app, ["decide", str(tmp_path), "--by", "region"])
    assert res.exit_code == 0, res.output
    assert "└ region=north" in res.output and "language=" not in res.output
    data = json.loads((tmp_path / "decisions.json").read_text())
    assert data["policy"]["cut_by"] == ["region"] and data["categories"][0]["cuts"][0]["by"] == "region"


def test_the_report_says_the_cuts_in_plain_words(cut_run):
    run, _, _, _ = cut_run
    items = [json.loads(line) for line in (run / "items.jsonl").read_text().splitlines()]
    tickets = {i["ticket_id"]: i["category"] for i in items}
    (run / "tickets.jsonl").write_text("".join(json.dumps({"ticket_id": t, "category": c}) + "\n"
                                               for t, c in tickets.items()))
    decide_to_file(run, load_policy({"cut_by": ["language"]}), seed=7)  # other tests rewrite it
    write_report(run)
    line = "refund: assist overall; by language: de assist, en automate, fr human (not enough evidence)"
    assert line in (run / "report.html").read_text()
    assert line.replace("_", "\\_") in (run / "report.md").read_text()
