"""Single-answer reviews: scales mapped to 1-5, every bad row reported with file, line and field,
duplicates and conflicts, CSV = JSONL, scorecard columns, anonymous reviewers, the CLI, and the
real DSTC10 ratings (read from ../shared/realdata, never copied into the project)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eval.cli import app
from eval.config import ConfigError, ReviewColumns, ReviewsConfig, load_config
from eval.ratings.reviews import COLUMNS, import_reviews, read_reviews, to_five

ITEMS = [("T1#1", "T1", "refund"), ("T1#3", "T1", "refund"), ("T2#1", "T2", "login"), ("T3#2", "T3", "login")]


def _jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows([header, *rows])
    return path


def _items(run: Path, items=ITEMS, texts=None) -> None:
    """items.jsonl; ``texts``: item_id → (human answer, AI answer)."""
    texts = texts or {}
    _jsonl(run / "items.jsonl", [
        {"item_id": i, "ticket_id": t, "turn_index": int(i.rsplit("#", 1)[1]), "category": c, "context": [],
         "human": {"text": texts.get(i, ("h", "a"))[0]}, "ai": {"text": texts.get(i, ("h", "a"))[1], "responder": "x"}}
        for i, t, c in items])


@pytest.fixture
def run(tmp_path: Path) -> Path:
    _items(tmp_path)
    return tmp_path


def _import(run: Path, *files: Path, **section):
    specs = ReviewsConfig(files=[str(f) for f in files], **section).file_specs()
    return import_reviews(specs, run / "items.jsonl", run / "reviews.jsonl", run / "reviews.rejected.jsonl")


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def _review(rid: str, item: str | None = "T1#1", answer: str = "replayed", source: str = "ai", **fields) -> dict:
    return {"review_id": rid, "item_id": item, "answer": answer, "source": source, "reviewer": "qa1", "score": 4,
            **fields}


@pytest.mark.parametrize(("scale", "raw", "five"), [
    ((0, 4), [0, 1, 2, 3, 4], [1, 2, 3, 4, 5]),
    ((0, 100), [0, 25, 50, 85, 100], [1, 2, 3, 4.4, 5]),
    ((1, 5), [1, 2.5, 5], [1, 2.5, 5]),
    ((1, 3), [1, 2, 3], [1, 3, 5]),
])
def test_scores_map_linearly_to_one_to_five_beside_the_original(run, scale, raw, five):
    assert [to_five(r, scale) for r in raw] == pytest.approx(five)
    rows = [_review(f"rv{i}", reviewer=f"qa{i}", score=r) for i, r in enumerate(raw)]
    summary = _import(run, _jsonl(run / "r.jsonl", rows), scale=list(scale))
    assert (summary.read, summary.kept, summary.rejected) == (len(raw), len(raw), 0)
    out = _lines(run / "reviews.jsonl")
    assert [r["score"] for r in out] == pytest.approx(five)
    assert [r["score_raw"] for r in out] == raw and all(r["scale"] == list(scale) for r in out)
    assert read_reviews(run / "reviews.jsonl")["score"].tolist() == pytest.approx(five)


def test_a_pass_fail_file_holds_acceptable_only(run):
    rows = [_review("a", score=None, acceptable=True), _review("b", "T2#1", reviewer="qa2", score=None,
                                                               acceptable=False, critical=True),
            _review("c", "T3#2", score=3), _review("d", "T3#2", score=None, reviewer="qa3")]
    summary = _import(run, _jsonl(run / "r.jsonl", rows), scale="pass_fail")
    assert {q.line: (q.reason, q.field) for q in summary.rejections} == {
        3: ("score_out_of_range", "score"), 4: ("missing_field", "acceptable")}
    out = read_reviews(run / "reviews.jsonl").set_index("review_id")
    assert out["score"].isna().all() and out["acceptable"].tolist() == [True, False]
    assert out.loc["b", "critical"] is True and _lines(run / "reviews.jsonl")[0]["scale"] == "pass_fail"


def test_every_bad_row_is_rejected_with_file_line_field_and_reason(run):
    rows = [
        _review("ok"),                                                     # 1 kept
        _review("r2", item="T9#1"),                                        # 2 unknown item
        _review("r3", answer="maybe"),                                     # 3 bad answer
        _review("r4", source="robot"),                                     # 4 bad source
        _review("r5", score=7),                                            # 5 outside 1-5
        json.dumps(_review("r6", score=1)).replace(": 1}", ": NaN}"),      # 6 not finite
        '{"review_id": "r7", "item_id": ',                                 # 7 cut-off JSON
        "",                                                                # 8 blank: not a review
        "[1, 2]",                                                          # 9 not an object
        {k: v for k, v in _review("x").items() if k != "review_id"},       # 10 no review_id
        _review("r11", item=None, answer="historical", source="human"),    # 11 no item_id
        _review("r12", source="human"),                                    # 12 a replayed answer is the AI's
        _review("r13", item=None, answer="live", ticket_id="T1", turn_index=1, category="refund"),  # 13 live: no item
        _review("r14", score="abc"),                                       # 14 not a number
        _review("r15", score=True),                                        # 15 a boolean is not a score
        _review("r16", reviewed_at="yesterday"),                           # 16 not ISO 8601
        _review("r17", score=None),                                        # 17 says nothing
        json.dumps(_review("r18", score=1)).replace(": 1}", ": -Infinity}"),  # 18 not finite
        _review("r19", item=None, answer="live", ticket_id="T9", category="refund"),  # 19 live without turn
    ]
    path = _jsonl(run / "r.jsonl", rows)
    summary = _import(run, path)
    assert {q.line: (q.reason, q.field) for q in summary.rejections} == {
        2: ("unknown_item", "item_id"), 3: ("bad_answer", "answer"), 4: ("bad_source", "source"),
        5: ("score_out_of_range", "score"), 6: ("non_finite", "score"), 7: ("invalid_json", "(record)"),
        9: ("not_an_object", "(record)"), 10: ("missing_field", "review_id"), 11: ("missing_field", "item_id"),
        12: ("bad_source", "source"), 13: ("live_answer", "answer"), 14: ("invalid_value", "score"),
        15: ("invalid_value", "score"), 16: ("invalid_value", "reviewed_at"), 17: ("missing_field", "score"),
        18: ("non_finite", "score"), 19: ("missing_field", "turn_index"),
    }
    assert all(q.source == str(path) for q in summary.rejections)
    assert summary.read == 18 == summary.kept + summary.rejected and summary.kept == 1
    assert summary.by_reason["non_finite"] == 2 and summary.per_file[str(path)] == {"read": 18, "rejected": 17,
                                                                                   "kept": 1}
    rejected = _lines(run / "reviews.rejected.jsonl")
    assert [r["line"] for r in rejected] == sorted(q.line for q in summary.rejections)
    assert rejected[0]["raw"]["item_id"] == "T9#1" and "outside the file's scale [1, 5]" in rejected[3]["detail"]
    assert (run / "reviews.jsonl").stat().st_mode & 0o777 == 0o600
    assert (run / "reviews.rejected.jsonl").stat().st_mode & 0o777 == 0o600


def test_duplicates_counted_once_conflicts_rejected_and_a_reviewer_reviews_an_answer_once(run):
    first = _jsonl(run / "one.jsonl", [_review("rv1"), _review("rv2", answer="historical", source="human")])
    second = _jsonl(run / "two.jsonl", [
        _review("rv1"),                                              # 1 exact repeat: counted once
        _review("rv2", answer="historical", source="human", score=2),  # 2 same id, other content: conflict
        _review("rv3"),                                              # 3 qa1 reviewed T1#1's AI answer already
        _review("rv4", reviewer=None), _review("rv5", reviewer=""),  # 4, 5 anonymous: both kept
        _review("rv6", reviewer="qa2"),                              # 6 another reviewer: kept
    ])
    summary = _import(run, first, second)
    got = sorted((Path(q.source).name, q.line, q.reason, q.field) for q in summary.rejections)
    assert got == [("one.jsonl", 2, "conflicting_duplicate", "review_id"), ("two.jsonl", 1, "duplicate", "review_id"),
                   ("two.jsonl", 2, "conflicting_duplicate", "review_id"), ("two.jsonl", 3, "duplicate", "reviewer")]
    kept = read_reviews(run / "reviews.jsonl")
    assert kept["review_id"].tolist() == ["rv1", "rv4", "rv5", "rv6"]
    assert kept["reviewer"].isna().tolist() == [False, True, True, False]
    assert summary.per_file[str(second)] == {"read": 6, "rejected": 3, "kept": 3}
    assert summary.by_kind == {"replayed-ai": 4, "historical-human": 0, "historical-ai": 0}


def test_csv_and_jsonl_give_the_same_reviews_bytes(run):
    rows = [
        _review("rv1", acceptable=True, critical=False, reviewed_at="2026-01-05T10:00:00Z", comment="fine, \"ok\""),
        _review("rv2", "T2#1", "historical", "ai", reviewer=None, score=2.5, acceptable=False, critical=None,
                comment=""),
        _review("rv3", "T3", "historical", "human", reviewer="qa2", score=1, comment="  "),
    ]
    # a blank first line puts each JSON row on the line number its CSV row has under the header
    _jsonl(run / "qa.jsonl", ["", *rows])
    header = list(rows[0])
    cells = [["" if r.get(h) is None else str(r[h]).lower() if isinstance(r[h], bool) else str(r[h]) for h in header]
             for r in rows]
    assert _import(run, run / "qa.jsonl").kept == 3
    from_jsonl = (run / "reviews.jsonl").read_bytes()
    assert _import(run, _csv(run / "qa.csv", header, cells)).kept == 3
    assert (run / "reviews.jsonl").read_bytes().replace(b"qa.csv", b"qa.jsonl") == from_jsonl
    out = _lines(run / "reviews.jsonl")
    assert [r["reviewer"] for r in out] == ["qa1", None, "qa2"] and out[1]["comment"] is out[2]["comment"] is None
    assert [r["acceptable"] for r in out] == [True, False, None] and out[2]["item_id"] == "T3#2"


SCORECARD = ["Review ID", "Conversation ID", "Reviewee", "Reviewer", "Empathy", "Compliance", "Security", "Overall %"]
COLUMNS_MAP = {"review_id": "Review ID", "item_id": "Conversation ID", "reviewer": "Reviewer", "score": "Overall %",
               "critical": ["Compliance", "Security"], "answer": "historical", "source": "human"}


def test_a_scorecard_export_reads_through_its_column_mapping(run):
    path = _csv(run / "scorecard.csv", SCORECARD, [
        ["S1", "T1", "agent_7", "lead_1", "80", "100", "pass", "85"],     # a conversation: its last turn T1#3
        ["S2", "T2#1", "agent_7", "lead_1", "50", "0", "pass", "40"],     # compliance failed: critical
        ["S3", "T2", "agent_9", "", "100", "", "n/a", "100"],              # nothing rated critical; anonymous
        ["S4", "T3#2", "agent_9", "lead_2", "100", "maybe", "pass", "90"],  # neither pass nor fail
        ["S5", "T9", "agent_9", "lead_2", "100", "100", "pass", "90"],     # no such item or ticket
        ["S6", "T3#2", "agent_9", "lead_2", "100", "100", "Fail", "120"],  # over 100 %
    ])
    summary = _import(run, path, scale=[0, 100], columns=COLUMNS_MAP)
    assert {q.line: (q.reason, q.field) for q in summary.rejections} == {
        5: ("invalid_value", "critical"), 6: ("unknown_item", "item_id"), 7: ("score_out_of_range", "score")}
    out = {r["review_id"]: r for r in _lines(run / "reviews.jsonl")}
    assert {k: (r["item_id"], r["side"], r["critical"], r["reviewer"]) for k, r in out.items()} == {
        "S1": ("T1#3", "human", False, "lead_1"), "S2": ("T2#1", "human", True, "lead_1"),
        "S3": ("T2#1", "human", None, None)}
    assert [out[k]["score"] for k in ("S1", "S2", "S3")] == pytest.approx([4.4, 2.6, 5.0])
    assert summary.from_ticket == 2 and summary.by_kind["historical-human"] == 3
    assert "2 conversation reviews read as their last turn" in summary.text()
    missing = _csv(run / "old.csv", SCORECARD[:-2] + ["Overall %"], [["S7", "T1#1", "a", "b", "1", "100", "70"]])
    [bad] = _import(run, missing, scale=[0, 100], columns=COLUMNS_MAP).rejections
    assert (bad.line, bad.reason, bad.field) == (2, "missing_field", "critical") and "'Security'" in bad.detail


def test_read_reviews_gives_the_decide_columns_even_without_a_file(run):
    empty = read_reviews(run / "reviews.jsonl")
    assert list(empty.columns) == list(COLUMNS) and empty.empty
    _import(run, _jsonl(run / "r.jsonl", [_review("a")]))
    assert list(read_reviews(run / "reviews.jsonl").columns) == list(COLUMNS)


def test_config_reviews_section_with_per_file_scales_and_strict_keys(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("name: t\ndata: {paths: [t.jsonl]}\nreviews:\n  scale: [0, 4]\n  columns: {score: Overall}\n"
                      "  files: [a.jsonl, {path: b.csv, scale: pass_fail}]\n")
    specs = load_config(config).reviews.file_specs()
    assert [(s.path, s.scale) for s in specs] == [("a.jsonl", (0.0, 4.0)), ("b.csv", "pass_fail")]
    assert specs[1].columns == ReviewColumns(score="Overall")
    for bad, key in (("scale: [5, 1]", "reviews.scale"), ("scales: [0, 4]", "reviews.scales"),
                     ("columns: {answer: live}", "reviews.columns.answer")):
        config.write_text(f"name: t\ndata: {{paths: [t.jsonl]}}\nreviews: {{files: [a.jsonl], {bad}}}\n")
        with pytest.raises(ConfigError, match=rf"key '{key}"):
            load_config(config)


def _cli_run(tmp_path: Path, reviews: str = "") -> Path:
    """A run folder as `run` leaves it, as far as the ratings import needs: items and a manifest with the config."""
    run = tmp_path / "run"
    run.mkdir()
    config = tmp_path / "config.yaml"
    config.write_text(f"name: t\ndata: {{paths: [t.jsonl]}}\n{reviews}")
    (run / "manifest.json").write_text(json.dumps({"config_path": str(config)}))
    return run


def test_cli_imports_review_files_alone_end_to_end(tmp_path):
    run = _cli_run(tmp_path, "reviews: {columns: {comment: Notes}}\n")
    _items(run)
    good = _jsonl(tmp_path / "audit.jsonl", [_review("a", score=4, Notes=None),
                                             _review("b", "T2#1", score=0, reviewer=None, Notes="")])
    sheet = _csv(tmp_path / "sheet.csv", ["review_id", "item_id", "answer", "source", "reviewer", "score", "Notes"],
                 [["c", "T1#1", "historical", "human", "", "2", "slow"], ["d", "T1#1", "historical", "human", "q", "9", ""]])
    res = CliRunner().invoke(app, ["ratings", "import", str(run), "--reviews", str(good), "--reviews", str(sheet),
                                   "--scale", "0", "4"])
    assert res.exit_code == 0, res.output
    assert "4 reviews read, 3 kept (replayed-ai: 2, historical-human: 1, historical-ai: 0), 1 rejected" in res.output
    assert "sheet.csv:3" in res.output and str(run / "reviews.jsonl") in res.output
    out = _lines(run / "reviews.jsonl")
    assert [r["score"] for r in out] == [5.0, 1.0, 3.0] and out[2]["comment"] == "slow" and out[2]["reviewer"] is None
    assert not (run / "ratings.jsonl").exists()
    res = CliRunner().invoke(app, ["ratings", "import", str(run)])
    assert res.exit_code == 2 and "--reviews" in res.output
    res = CliRunner().invoke(app, ["ratings", "import", str(run), "--reviews", str(good), "--scale", "4", "0"])
    assert res.exit_code == 2 and "--scale" in res.output


def test_the_run_pipeline_imports_the_configs_review_files(tmp_path):
    data = Path(__file__).resolve().parents[1] / "data"
    tickets = [json.loads(x) for x in (data / "tickets.jsonl").read_text().splitlines()]
    rows = [{"review_id": f"q{i}", "item_id": t["ticket_id"], "answer": "historical", "source": "human",
             "reviewer": "lead", "score": 3} for i, t in enumerate(tickets[:3])]
    _jsonl(tmp_path / "qa.jsonl", rows)
    config = tmp_path / "config.yaml"
    config.write_text(f"name: t\ndata: {{paths: [{data / 'tickets.jsonl'}]}}\nrubrics: {{path: {data / 'rubrics'}}}\n"
                      f"replay: {{responder: {{kind: precomputed, path: {data / 'ai_answers.jsonl'}}}}}\n"
                      "reviews: {files: [qa.jsonl], scale: [1, 3]}\n")
    res = CliRunner().invoke(app, ["run", str(config), "--out", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    said = " ".join(res.output.split())
    assert "3 reviews read, 3 kept" in said and "3 conversation reviews read as their last turn" in said
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["stages"]["reviews"]["summary"]["kept"] == 3
    assert str(tmp_path / "qa.jsonl") in {i["path"] for i in manifest["inputs"]}
    assert read_reviews(tmp_path / "run" / "reviews.jsonl")["score"].tolist() == [5.0, 5.0, 5.0]
    again = CliRunner().invoke(app, ["run", str(config), "--out", str(tmp_path / "run")])  # resumed: read back
    assert again.exit_code == 0 and "3 kept (replayed-ai: 0, historical-human: 3, historical-ai: 0)" in again.output


def _dstc10_run(tmp_path: Path, dstc10: Path, n: int = 60) -> tuple[Path, list[int], dict[str, list]]:
    """Items for the first ``n`` target turns rated for both the reference (human) and teamB02 entry3 (AI)."""
    labels, ref, sys_eval, answers = (json.loads((dstc10 / name).read_text()) for name in (
        "labels.json", "results/ref/ref.human_eval.json", "results/teamB02/entry3.human_eval.json",
        "results/teamB02/entry3.json"))
    picked = [i for i, label in enumerate(labels) if label["target"] and ref[i] and sys_eval[i]][:n]
    run = _cli_run(tmp_path)
    _items(run, [(f"d{i}#1", f"d{i}", labels[i]["knowledge"][0]["domain"]) for i in picked],
           {f"d{i}#1": (labels[i]["response"], answers[i]["response"]) for i in picked})
    return run, picked, {"ref": [ref[i] for i in picked], "sys": [sys_eval[i] for i in picked]}


def test_dstc10_single_answer_ratings_of_the_reference_and_a_system_through_the_cli(tmp_path, realdata):
    run, picked, evals = _dstc10_run(tmp_path, realdata / "dstc10")
    files = []
    for name, answer, source in (("ref", "historical", "human"), ("sys", "replayed", "ai")):
        rows = [{"review_id": f"{name}-{i}-{k}", "item_id": f"d{i}#1", "answer": answer, "source": source,
                 "reviewer": None, "score": score}
                for i, rated in zip(picked, evals[name]) for k, score in enumerate(rated["appropriateness"])]
        files += ["--reviews", str(_jsonl(tmp_path / f"{name}.jsonl", rows))]
    res = CliRunner().invoke(app, ["ratings", "import", str(run), *files])
    assert res.exit_code == 0, res.output
    assert "360 reviews read, 360 kept (replayed-ai: 180, historical-human: 180, historical-ai: 0), 0 rejected" \
        in res.output
    got = read_reviews(run / "reviews.jsonl")
    assert got["reviewer"].isna().all() and got.groupby("item_id").size().eq(6).all()
    assert set(got["category"]) <= {"hotel", "restaurant", "attraction"} and got["ticket_id"].nunique() == 60
    means = got.groupby("side")["score"].mean()
    for side, name in (("human", "ref"), ("ai", "sys")):
        scores = [s for rated in evals[name] for s in rated["appropriateness"]]
        assert means[side] == pytest.approx(sum(scores) / len(scores))
    decided = CliRunner().invoke(app, ["decide", str(run)])
    assert decided.exit_code == 0, decided.output
    categories = json.loads((run / "decisions.json").read_text())["categories"]
    assert {c["evidence"] for c in categories} == {"reviews_paired"}  # both answers of each turn reviewed
    assert {c["tier"] for c in categories} == {"human"}  # anonymous crowd raters barely agree (alpha near 0)
