"""The report of the demo run: every tier and headline number equals decisions.json, nothing external."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from eval.records import Decisions
from eval.redact import find_pii
from eval.report import write_report
from eval.report.content import DAYS_PER_MONTH, tier_shares, workloads
from eval.report.examples import ExampleSpec, pick_examples
from eval.report.sources import TicketStats, read_decisions, read_ticket_stats
from eval.store import RecordError

DEMO = Path(__file__).parents[2] / "datasets" / "demo" / "config.yaml"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo") / "run"
    res = subprocess.run([sys.executable, "-m", "eval", "run", str(DEMO), "--out", str(out)],
                         check=False, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    return out, res.stdout


class Fields(HTMLParser):
    """Collects, per category section, every ``data-field`` element's value and shown text."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, dict[str, object]] = {}
        self.summary: dict[str, tuple[object, str]] = {}
        self.refs: list[tuple[str, str]] = []
        self._section: str | None = None
        self._depth = 0
        self._open: list[tuple[str, object, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.refs += [(k, v or "") for k, v in attrs if k in ("src", "href")]
        if tag == "section" and (a.get("id") or "").startswith("cat-"):
            self._section, self._depth = a["id"][4:], 0
            self.sections[self._section] = {"_tier": a.get("data-tier"), "_fields": {}}
        if tag == "section" and self._section:
            self._depth += 1
        if "data-field" in a:
            self._open.append((a["data-field"], json.loads(a["data-value"]), []))

    def handle_data(self, data: str) -> None:
        for _, _, text in self._open:
            text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "span" and self._open:
            field, value, text = self._open.pop()
            shown = "".join(text).strip()
            if self._section:
                self.sections[self._section]["_fields"][field] = (value, shown)
            else:
                self.summary[field] = (value, shown)
        if tag == "section" and self._section:
            self._depth -= 1
            if self._depth == 0:
                self._section = None


def _lookup(cat: dict, path: str) -> object:
    parts = path.split(".")
    if parts[0] == "reasons":
        reason = next(r for r in cat["reasons"] if r["gate"] == parts[1])
        return reason[parts[2]]
    value: object = cat
    for p in parts:
        value = value[p]
    return value


def _pct(v: float) -> str:
    return f"{v:.1%}"


HEADLINE = {
    "tickets": lambda v: f"{v:,}", "volume_share": _pct, "rated_items": lambda v: f"{v:,}",
    "estimates.diff_mean.estimate": lambda v: f"{v:+.2f}", "estimates.diff_mean.low": lambda v: f"{v:+.2f}",
    "estimates.diff_mean.high": lambda v: f"{v:+.2f}", "estimates.critical_ai.upper_one_sided": _pct,
    "ratings_needed": lambda v: "—" if v is None else f"{v:,}",
    "audit_sample_per_week": lambda v: f"{v:,}",
}


def test_every_tier_and_headline_number_equals_decisions_json(run) -> None:
    out, stdout = run
    decisions = json.loads((out / "decisions.json").read_text())
    html = (out / "report.html").read_text(encoding="utf-8")
    parser = Fields()
    parser.feed(html)
    assert set(parser.sections) == {c["category"] for c in decisions["categories"]}
    for cat in decisions["categories"]:
        section = parser.sections[cat["category"]]
        fields = section["_fields"]
        assert section["_tier"] == cat["tier"] and fields["tier"][0] == cat["tier"]
        for field, (value, _) in fields.items():
            expected = _lookup(cat, field)
            assert value == expected, (cat["category"], field)
        for field, fmt in HEADLINE.items():
            if field == "audit_sample_per_week" and cat["tier"] != "automate":
                assert field not in fields
                continue
            assert fields[field][1] == fmt(_lookup(cat, field)), (cat["category"], field)
        gates = {f.split(".")[1] for f in fields if f.startswith("reasons.")}
        assert gates == {r["gate"] for r in cat["reasons"]}
    for tier in ("automate", "assist", "human"):
        share = sum(c["volume_share"] for c in decisions["categories"] if c["tier"] == tier)
        value, shown = parser.summary[f"tier_share.{tier}"]
        assert value == pytest.approx(share, abs=1e-5) and shown == _pct(value)
    assert f"Report: {out / 'report.html'}" in stdout


def test_the_report_makes_no_external_request(run) -> None:
    html = (run[0] / "report.html").read_text(encoding="utf-8")
    parser = Fields()
    parser.feed(html)
    srcs = [v for k, v in parser.refs if k == "src"]
    assert len(srcs) == 4 and all(v.startswith("data:image/svg+xml;base64,") for v in srcs)
    assert all(v.startswith("#") for k, v in parser.refs if k == "href")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.IGNORECASE)
    assert "@import" not in html and not re.search(r"url\(\s*['\"]?\s*(https?:)?//", html, re.IGNORECASE)
    assert len(html.encode()) < 3_000_000


def test_examples_are_redacted_and_show_both_answers(run) -> None:
    html = (run[0] / "report.html").read_text(encoding="utf-8")
    blocks = re.findall(r'<p class="text">(.*?)</p>', html, re.DOTALL)
    decisions = json.loads((run[0] / "decisions.json").read_text())
    assert len(blocks) == 3 * 3 * len(decisions["categories"])
    assert not [b for b in blocks if find_pii(b)]
    assert "[EMAIL]" in html or "[PHONE]" in html


def test_same_run_folder_gives_the_same_bytes(run) -> None:
    out = run[0]
    names = ["report.html", "report.md", *[f"figures/{f}.{e}" for f in ("forest", "volume", "agreement", "critical")
                                            for e in ("png", "svg")]]
    before = {n: (out / n).read_bytes() for n in names}
    summary = write_report(out)
    assert {n: (out / n).read_bytes() for n in names} == before
    assert summary.html_bytes == len(before["report.html"])
    assert b"<dc:date>" not in before["figures/forest.svg"]


def test_markdown_has_every_category_tier_and_links_the_figures(run) -> None:
    out = run[0]
    md = (out / "report.md").read_text(encoding="utf-8")
    decisions = Decisions.model_validate_json((out / "decisions.json").read_text())
    labels = {"automate": "Automate", "assist": "Assist", "human": "Human"}
    for c in decisions.categories:
        name = c.category.replace("_", " ")
        assert f"### {name[0].upper()}{name[1:]}: {labels[c.tier]}" in md
    for link in re.findall(r"\]\((figures/[^)]+)\)", md):
        assert (out / link).is_file()


def _wilson(k: int, n: int, z: float) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def _decisions(tiers: dict[str, tuple[str, int]]) -> Decisions:
    total = sum(n for _, n in tiers.values())
    return Decisions.model_validate({
        "policy": {"confidence": 0.95}, "method": "", "reviewers_excluded": [], "reviewers_note": "",
        "categories": [{"category": c, "tier": t, "tickets": n, "volume_share": n / total, "rated_items": 0,
                        "estimates": {}, "reasons": [], "ratings_needed": None,
                        "audit_sample_per_week": 10 if t == "automate" else None} for c, (t, n) in tiers.items()],
    })


def test_tier_shares_are_exact_counts_with_wilson_intervals() -> None:
    shares = {s.tier: s for s in tier_shares(_decisions(
        {"a": ("automate", 300), "b": ("automate", 200), "c": ("assist", 150), "d": ("human", 350)}))}
    assert shares["automate"].tickets == 500 and shares["automate"].share == 0.5
    assert shares["automate"].audit_per_week == 20 and shares["human"].audit_per_week is None
    z = sps.norm.ppf(0.975)
    for tier, k in (("automate", 500), ("assist", 150), ("human", 350)):
        assert (shares[tier].low, shares[tier].high) == pytest.approx(_wilson(k, 1000, z), abs=1e-12)


def test_workload_is_tickets_per_month_times_mean_handle_time() -> None:
    created = pd.date_range("2025-01-01", periods=61, freq="12h", tz="UTC")
    frame = pd.DataFrame({"category": ["x"] * 40 + ["y"] * 21, "created": created,
                          "handle_time_s": [600.0] * 20 + [1200.0] * 20 + [np.nan] * 21})
    loads = workloads(TicketStats(frame, 0))
    per_month = 40 / (30 / DAYS_PER_MONTH)
    assert loads["x"].tickets_per_month == pytest.approx(per_month)
    assert loads["x"].hours_per_month == pytest.approx(per_month * 900 / 3600)
    assert "y" not in loads


def test_examples_rank_by_reliable_reviewers_only() -> None:
    rows = [("i1", "qa_1", 5, 2), ("i2", "qa_1", 3, 3), ("i3", "qa_1", 1, 4), ("i4", "qa_1", 2, 2),
            ("i3", "bad", 5, 1), ("i1", "bad", 1, 5)]
    ratings = pd.DataFrame(rows, columns=["item_id", "reviewer", "score_ai", "score_human"]).assign(
        category="c", critical_ai=[False, False, True, False, False, False])
    picks = pick_examples(ratings, None, {}, ["c"], ["bad"], ExampleSpec(best=1, worst=2))["c"]
    assert [(p.kind, p.item_id) for p in picks] == [("best", "i1"), ("worst", "i3"), ("worst", "i4")]
    assert picks[1].critical_ai and picks[0].ai_score == 5.0 and picks[0].human_score == 2.0
    with_bad = pick_examples(ratings, None, {}, ["c"], [], ExampleSpec(best=1, worst=1))["c"]
    assert [(p.kind, p.item_id) for p in with_bad] == [("best", "i3"), ("worst", "i4")]


def test_examples_fall_back_to_rubric_scores_without_ratings() -> None:
    scores = pd.DataFrame([("i1", "ai", 0.9, False), ("i1", "human", 0.5, False), ("i2", "ai", 0.2, True),
                           ("i2", "human", 0.8, False), ("i3", "ai", 0.6, False), ("i3", "human", 0.6, False)],
                          columns=["item_id", "side", "score", "critical_fail"])
    empty = pd.DataFrame(columns=["item_id", "category", "reviewer", "score_ai", "score_human", "critical_ai"])
    picks = pick_examples(empty, scores, {"i1": "c", "i2": "c", "i3": "c"}, ["c"], [], ExampleSpec(1, 1))["c"]
    assert [(p.kind, p.item_id, p.basis) for p in picks] == [("best", "i1", "rubric"), ("worst", "i2", "rubric")]


def test_bad_decisions_file_names_the_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "decisions.json"
    path.write_text(json.dumps({"policy": {}, "method": "", "reviewers_excluded": [], "reviewers_note": "",
                                "categories": [{"category": "x", "tier": "maybe"}]}))
    with pytest.raises(RecordError, match=r"decisions\.json: field 'categories\.0\.tier'"):
        read_decisions(path)


def test_bad_handle_time_names_file_line_and_field(tmp_path: Path) -> None:
    good = {"ticket_id": "T1", "category": "x", "created_at": "2025-01-01T00:00:00Z", "turns": [],
            "metadata": {"handle_time_s": 60}}
    bad = {**good, "ticket_id": "T2", "metadata": {"handle_time_s": "ten minutes"}}
    (tmp_path / "tickets.jsonl").write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(RecordError, match=r"tickets\.jsonl:2: field 'metadata\.handle_time_s'"):
        read_ticket_stats(tmp_path)


def test_category_without_ratings_and_a_judge_field_render(run, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run[0], copy, ignore=shutil.ignore_patterns("report.*", "figures"))
    raw = json.loads((copy / "decisions.json").read_text())
    raw["categories"][0]["judge"] = {"judged_items": 120, "judge_errors": 2, "agreement_with_reviewers": 0.31,
                                     "reviewers_with_each_other": 0.7, "leniency": 0.2}
    raw["categories"].append({
        "category": "warranty_claim", "tier": "human", "tickets": 5, "volume_share": 0.001, "rated_items": 3,
        "estimates": {}, "ratings_needed": 37, "ratings_needed_by_gate": {"min_rated": 37},
        "ratings_needed_text": "37 more rated items reach min_rated",
        "reasons": [{"gate": "min_rated", "passed": False, "value": 3, "threshold": 40, "text": "3 rated items"}],
    })
    (copy / "decisions.json").write_text(json.dumps(raw))
    write_report(copy)
    html = (copy / "report.html").read_text(encoding="utf-8")
    parser = Fields()
    parser.feed(html)
    assert parser.sections["warranty_claim"]["_tier"] == "human"
    assert parser.sections["warranty_claim"]["_fields"]["ratings_needed"] == (37, "37")
    assert "only 3 answers rated so far, 40 needed" in html
    assert "Warranty claim: 37 more rated answers are needed before it can be judged at all." in html
    assert ("The judge gave verdicts on 120 answers (2 failed); it agrees with reviewers 0.31 of the time (reviewers "
            "with each other 0.70) and prefers the AI answer 20 percentage points more often") in html
    assert "The judge disagrees with reviewers most in " + raw["categories"][0]["category"].replace("_", " ").capitalize() in html


def test_rollout_plan_and_monitoring_section(run, tmp_path: Path) -> None:
    from eval.records import CategoryMonitor, Monitor

    copy = tmp_path / "run"
    shutil.copytree(run[0], copy, ignore=shutil.ignore_patterns("report.*", "figures"))
    decisions = read_decisions(copy / "decisions.json")[0]
    automated = next(c for c in decisions.categories if c.tier == "automate")
    monitor = Monitor(alpha=0.05, horizon_weeks=52, reviews=1040, assist_logs=0, categories=[CategoryMonitor(
        category=automated.category, tier_decided="automate", tier="assist", changed_at="2026-04-08T02:39:54Z",
        reason="demoted: harmful in 9 of the last 80 reviews", evidence={})])
    (copy / "monitor.json").write_text(monitor.model_dump_json())
    write_report(copy)
    html, md = (copy / "report.html").read_text(encoding="utf-8"), (copy / "report.md").read_text(encoding="utf-8")
    name = automated.category.replace("_", " ").capitalize()
    for text in (html, md):
        assert f"{name} demoted to assist (2026-04-08)" in text
        assert "After the decision: monitoring" in text and "harmful in 9 of the last 80 reviews" in text
        assert "Rollout plan" in text
    stages = re.findall(r'data-field="stage" data-value=\'"(\w+)"\'', html)
    assert len(stages) == len(decisions.categories) and set(stages) <= {"shadow", "assist", "automate"}
