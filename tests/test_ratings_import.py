"""Ratings import: unblinding through the key, and every bad row reported, never guessed."""

from __future__ import annotations

import json

import pytest

from eval.ratings.importer import import_ratings, read_ratings
from eval.store import RecordError

ITEMS = [
    {"item_id": "T1#1", "ticket_id": "T1", "category": "refund"},
    {"item_id": "T1#3", "ticket_id": "T1", "category": "refund"},
    {"item_id": "T2#1", "ticket_id": "T2", "category": "login"},
]
KEY = [
    {"rating_id": "ra", "item_id": "T1#1", "x": "ai", "y": "human", "gold": False},
    {"rating_id": "rb", "item_id": "T1#3", "x": "human", "y": "ai", "gold": True},
    {"rating_id": "rc", "item_id": "T2#1", "x": "human", "y": "ai", "gold": False},
    {"rating_id": "rz", "item_id": "T9#1", "x": "ai", "y": "human", "gold": False},
]


def _write_jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


@pytest.fixture
def run(tmp_path):
    items = [{**i, "turn_index": 1, "context": [], "human": {"text": "h"}, "ai": {"responder": "x"}} for i in ITEMS]
    _write_jsonl(tmp_path / "items.jsonl", items)
    _write_jsonl(tmp_path / "key.jsonl", KEY)
    return tmp_path


def _import(run, *files):
    return import_ratings(list(files), run / "key.jsonl", run / "items.jsonl", run / "ratings.jsonl")


def test_unblinds_jsonl_through_the_key(run):
    rows = [
        {"rating_id": "ra", "reviewer": "qa1", "score_x": 5, "score_y": 2, "preference": "x",
         "acceptable_x": True, "acceptable_y": False, "critical_x": False, "critical_y": True, "seconds": 30},
        {"rating_id": "rb", "reviewer": "qa1", "score_x": 5, "score_y": 2, "preference": "x",
         "acceptable_x": True, "acceptable_y": None, "critical_x": None, "critical_y": False, "comment": "ok"},
        {"rating_id": "rc", "reviewer": "qa2", "score_x": 3, "score_y": 3, "preference": "tie_bad"},
    ]
    summary = _import(run, _write_jsonl(run / "qa.jsonl", rows))
    assert (summary.read, summary.kept, summary.rejected) == (3, 3, 0)
    got = read_ratings(run / "ratings.jsonl").set_index("rating_id")
    a, b, c = got.loc["ra"], got.loc["rb"], got.loc["rc"]
    assert (a.score_ai, a.score_human, a.preference) == (5, 2, "ai")
    assert (a.critical_ai, a.critical_human, a.category, a.ticket_id) == (False, True, "refund", "T1")
    # rb shows the human answer as x: everything flips
    assert (b.score_ai, b.score_human, b.preference, b.gold) == (2, 5, "human", True)
    assert (b.acceptable_human, b.acceptable_ai, b.critical_human, b.critical_ai) == (True, None, None, False)
    assert (c.preference, c.acceptable_ai, c.category) == ("tie_bad", None, "login")


def test_csv_empty_cells_are_missing_and_booleans_parse(run):
    csv_text = (
        "rating_id,reviewer,score_x,score_y,preference,acceptable_x,acceptable_y,critical_x,critical_y,comment,seconds\n"
        "ra,qa1,4,3,y,TRUE,0,false,,\"multi\nline\",12.5\n"
        "rc,qa1,2,5,,1,,,,,\n"
    )
    (run / "qa.csv").write_text(csv_text)
    summary = _import(run, run / "qa.csv")
    assert summary.kept == 2
    got = read_ratings(run / "ratings.jsonl").set_index("rating_id")
    assert (got.loc["ra", "preference"], got.loc["ra", "acceptable_ai"], got.loc["ra", "acceptable_human"]) == (
        "human", True, False)
    assert got.loc["ra", "critical_human"] is None and got.loc["ra", "comment"] == "multi\nline"
    raw = {r["rating_id"]: r for r in map(json.loads, (run / "ratings.jsonl").read_text().splitlines())}
    assert raw["rc"]["preference"] is None and raw["rc"]["acceptable_human"] is True  # x is human
    assert raw["rc"]["acceptable_ai"] is None and raw["rc"]["seconds"] is None


def test_bad_rows_are_reported_with_file_line_field_and_excluded(run):
    good = {"rating_id": "ra", "reviewer": "qa1", "score_x": 4, "score_y": 3}
    rows = [
        good,                                                  # 1 kept
        {**good, "rating_id": "nope"},                         # 2 unknown rating_id
        {**good, "rating_id": "rz"},                           # 3 key points to an unknown item
        {**good, "reviewer": "qa2", "score_y": 6},             # 4 score out of range
        {**good, "reviewer": "qa3", "preference": "maybe"},    # 5 bad preference
        "{\"rating_id\": \"ra\", \"reviewer\": ",              # 6 cut-off JSON
        "",                                                    # 7 blank: skipped, not a rating
        {"rating_id": "rb", "score_x": 4, "score_y": 3},       # 8 missing reviewer
        {**good, "reviewer": "qa4", "score_x": 2.5},           # 9 fractional score
        "[1, 2]",                                              # 10 not an object
    ]
    path = _write_jsonl(run / "qa.jsonl", rows)
    summary = _import(run, path)
    by_line = {r.line: (r.reason, r.field) for r in summary.rejections}
    assert by_line == {
        2: ("unknown_rating_id", "rating_id"), 3: ("unknown_item", "rating_id"),
        4: ("score_out_of_range", "score_y"), 5: ("bad_preference", "preference"),
        6: ("invalid_json", "(record)"), 8: ("missing_field", "reviewer"),
        9: ("invalid_value", "score_x"), 10: ("not_an_object", "(record)"),
    }
    assert all(r.source == str(path) for r in summary.rejections)
    assert summary.read == 9 and summary.kept == 1 and summary.read == summary.kept + summary.rejected
    assert summary.by_reason["unknown_item"] == 1
    rejected = [json.loads(line) for line in (run / "ratings.rejected.jsonl").read_text().splitlines()]
    assert [r["line"] for r in rejected] == sorted(by_line)
    assert len(read_ratings(run / "ratings.jsonl")) == 1


def test_duplicates_exact_repeat_keeps_one_conflict_keeps_none(run):
    a = {"rating_id": "ra", "reviewer": "qa1", "score_x": 4, "score_y": 3}
    b = {"rating_id": "rb", "reviewer": "qa1", "score_x": 4, "score_y": 3}
    first = _write_jsonl(run / "one.jsonl", [a, b])
    second = _write_jsonl(run / "two.jsonl", [a, {**b, "score_x": 1}, {**a, "reviewer": "qa2"}])
    summary = _import(run, first, second)
    reasons = sorted((r.source.rsplit("/", 1)[1], r.line, r.reason) for r in summary.rejections)
    assert reasons == [("one.jsonl", 2, "conflicting_duplicate"), ("two.jsonl", 1, "duplicate"),
                       ("two.jsonl", 2, "conflicting_duplicate")]
    kept = read_ratings(run / "ratings.jsonl")
    assert sorted(zip(kept.rating_id, kept.reviewer)) == [("ra", "qa1"), ("ra", "qa2")]
    assert summary.per_file[str(second)] == {"read": 3, "rejected": 2, "kept": 1}


def test_bad_key_and_bad_ratings_file_raise_naming_the_file(run):
    _write_jsonl(run / "key.jsonl", [{**KEY[0], "y": "ai"}])
    with pytest.raises(RecordError, match="key.jsonl"):
        _import(run, _write_jsonl(run / "qa.jsonl", []))
    _write_jsonl(run / "key.jsonl", [{**KEY[0], "x": "robot"}])
    with pytest.raises(RecordError, match=r"key.jsonl:1: field 'x'"):
        _import(run, run / "qa.jsonl")
    _write_jsonl(run / "ratings.jsonl", [{"rating_id": "ra", "item_id": "T1#1", "ticket_id": "T1",
                                          "category": "c", "reviewer": "q", "score_ai": 7, "score_human": 1}])
    with pytest.raises(RecordError, match=r"ratings.jsonl:1: field 'score_ai'"):
        read_ratings(run / "ratings.jsonl")


def test_fast_and_row_by_row_paths_write_the_same_bytes(run):
    rows = [
        {"rating_id": "ra", "reviewer": "qa1", "score_x": 5, "score_y": 2, "preference": "x",
         "acceptable_x": True, "acceptable_y": False, "critical_x": False, "critical_y": True, "seconds": 30.5,
         "comment": "fine"},
        {"rating_id": "rb", "reviewer": "qa1", "score_x": 1, "score_y": 4, "preference": None,
         "acceptable_x": None, "acceptable_y": True, "critical_x": None, "critical_y": None, "seconds": None,
         "comment": None},
    ]
    _import(run, _write_jsonl(run / "qa.jsonl", rows))  # clean JSONL: the columnar reader
    fast = (run / "ratings.jsonl").read_bytes()
    header = list(rows[0])
    cells = [["" if r[h] is None else str(r[h]).lower() if isinstance(r[h], bool) else str(r[h]) for h in header]
             for r in rows]
    (run / "qa.csv").write_text("\n".join(",".join(c) for c in [header, *cells]) + "\n")
    _import(run, run / "qa.csv")  # CSV: always row by row
    assert (run / "ratings.jsonl").read_bytes() == fast
    assert len(read_ratings(run / "ratings.jsonl")) == 2


def test_preference_only_rows_need_both_scores_or_neither_and_a_preference(run):
    rows = [
        {"rating_id": "rb", "reviewer": "qa1", "preference": "y", "acceptable_x": False},  # 1 kept: no scores
        {"rating_id": "rb", "reviewer": "qa2", "score_x": 2, "score_y": 4, "preference": "y"},  # 2 kept: scored
        {"rating_id": "rc", "reviewer": "qa1", "score_x": 4, "preference": "x"},           # 3 half a pair
        {"rating_id": "rc", "reviewer": "qa2", "score_y": 4, "preference": "x"},           # 4 the other half
        {"rating_id": "rc", "reviewer": "qa3", "acceptable_x": True},                      # 5 nothing to compare
    ]
    summary = _import(run, _write_jsonl(run / "qa.jsonl", rows))
    assert {r.line: (r.reason, r.field) for r in summary.rejections} == {
        3: ("missing_field", "score_y"), 4: ("missing_field", "score_x"), 5: ("missing_field", "preference")}
    assert "score_y is required when score_x is given" in summary.rejections[0].detail
    raw = [json.loads(line) for line in (run / "ratings.jsonl").read_text().splitlines()]
    assert [(r["score_ai"], r["score_human"], r["preference"], r["acceptable_human"]) for r in raw] == [
        (None, None, "ai", False), (4, 2, "ai", None)]  # rb shows the human answer as x
    fast = (run / "ratings.jsonl").read_bytes()
    header = ["rating_id", "reviewer", "score_x", "score_y", "preference", "acceptable_x"]
    (run / "qa.csv").write_text("\n".join([",".join(header), "rb,qa1,,,y,false", "rb,qa2,2,4,y,"]) + "\n")
    _import(run, run / "qa.csv")  # row by row: the same bytes as the columnar reader
    assert (run / "ratings.jsonl").read_bytes() == fast
    got = read_ratings(run / "ratings.jsonl")
    assert got["score_ai"].isna().tolist() == [True, False]


def test_anonymous_ratings_of_one_packet_are_never_merged(run):
    rows = [{"rating_id": "ra", "reviewer": None, "preference": p} for p in ("x", "y", "x")]
    rows.append({"rating_id": "ra", "preference": "x"})  # no reviewer field at all: not anonymous, incomplete
    path = _write_jsonl(run / "crowd.jsonl", rows)
    summary = _import(run, path)
    assert summary.kept == 3 and [(r.line, r.reason, r.field) for r in summary.rejections] == [
        (4, "missing_field", "reviewer")]
    kept = read_ratings(run / "ratings.jsonl")
    assert kept["reviewer"].isna().all() and kept["preference"].tolist() == ["ai", "human", "ai"]
    summary = _import(run, path, path)  # the same file twice: its lines repeat, its raters do not multiply
    assert len(read_ratings(run / "ratings.jsonl")) == 3
    assert sorted(r.reason for r in summary.rejections) == ["duplicate"] * 3 + ["missing_field"] * 2
    assert "(ra, anonymous) rated more than once" in next(r.detail for r in summary.rejections if r.reason == "duplicate")
