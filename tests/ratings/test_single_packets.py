"""Single-answer packets: deterministic, balanced and blind; their reviews back through the app, a filled
packet or Label Studio into reviews.jsonl, which decide reads as reviews paired by item."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from test_packets import AGENTS, REVIEWERS, make_run

from eval.config import ReviewFile
from eval.decide import decide_to_file
from eval.policy import Policy
from eval.ratings import labelstudio
from eval.ratings.app.server import create_app
from eval.ratings.export import export_reviews
from eval.ratings.packets import PacketSpec, write_packets
from eval.ratings.reviews import import_reviews
from eval.ratings.single import ReviewKey, SingleRow
from eval.records import UnblindedReview
from eval.run.folder import RunFolder
from eval.store import read_jsonl

SHOWN = {"review_id", "reviewer", "position", "category", "context", "answer", "facts"}


def single_run(tmp: Path, per_category: int = 40, reviewers: tuple[str, ...] = REVIEWERS) -> Path:
    run = make_run(tmp, per_category=per_category)
    write_packets(run, PacketSpec(reviewers, 200), Policy(min_rated=20), seed=11, kind="single")
    return run


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return single_run(tmp_path_factory.mktemp("single"))


def keys_of(run: Path) -> dict[str, ReviewKey]:
    return {k.review_id: k for k in read_jsonl(RunFolder(run).review_key, ReviewKey)}


def packet_rows(run: Path) -> list[SingleRow]:
    return [row for reviewer in REVIEWERS for row in read_jsonl(run / "packets" / f"{reviewer}.jsonl", SingleRow)]


def _import(run: Path, *files: Path):
    specs = [ReviewFile(path=str(f), scale=(1, 5)) for f in files]
    folder = RunFolder(run)
    return import_reviews(specs, folder.items, folder.reviews, folder.reviews_rejected, folder.review_key)


def test_single_packets_are_byte_identical_for_the_same_seed_and_keep_their_own_key(tmp_path: Path) -> None:
    out = []
    for name in ("a", "b"):
        run = single_run(tmp_path / name, per_category=20, reviewers=REVIEWERS[:3])
        out.append([(run / f).read_bytes() for f in ("review_key.jsonl", "packets/qa_01.csv", "packets/qa_02.jsonl",
                                                     "packets/qa_03.labelstudio.json", "packets/labelstudio_config.xml")])
        assert not (run / "key.jsonl").exists()
    assert out[0] == out[1]


def test_both_answers_of_an_item_go_to_different_reviewers_in_balance(run: Path) -> None:
    keys = keys_of(run)
    assert all(re.fullmatch(r"r[0-9a-f]{10}", rid) for rid in keys)
    by_item: dict[str, list[ReviewKey]] = {}
    for k in keys.values():
        by_item.setdefault(k.item_id, []).append(k)
    assert all(len({k.reviewer for k in ks}) == len(ks) for ks in by_item.values())
    assert all({k.source for k in ks} == {"ai", "human"} for ks in by_item.values() if len(ks) >= 2)
    ai = sum(k.source == "ai" for k in keys.values())
    odd = sum(len(ks) % 2 for ks in by_item.values())
    assert abs(ai - (len(keys) - ai)) <= odd and odd < len(by_item)
    assert all((k.answer, k.source) in (("replayed", "ai"), ("historical", "human")) for k in keys.values())
    firsts = {ks[0].source for ks in by_item.values()}
    assert firsts == {"ai", "human"}, "the first side is drawn per item"
    rows = packet_rows(run)
    assert {r.review_id for r in rows} == set(keys)
    ai_texts = {r.answer for r in rows if keys[r.review_id].source == "ai"}
    human_texts = {r.answer for r in rows if keys[r.review_id].source == "human"}
    assert ai_texts and human_texts and not ai_texts & human_texts


def test_nothing_reviewers_see_says_which_answer_is_the_ais(run: Path) -> None:
    folder = run / "packets"
    for line in (folder / "qa_01.jsonl").read_text().splitlines():
        assert set(json.loads(line)) == SHOWN | {"score", "acceptable", "critical", "comment", "seconds"}
    assert all(set(t["data"]) == SHOWN for t in json.loads((folder / "qa_01.labelstudio.json").read_text()))
    assert (folder / "labelstudio_config.xml").read_text() == labelstudio.SINGLE_CONFIG
    text = "".join((folder / f).read_text() for f in ("qa_01.jsonl", "qa_01.csv", "qa_01.labelstudio.json",
                                                      "labelstudio_config.xml"))
    assert not re.search(r"\b(ai|human|replayed|historical|source|answer_x|answer_y)\b", text.lower())
    for planted in ("jana.k@example.org", "4111 1111 1111 1111", *AGENTS, "AI assistant", "Virtual Assistant"):
        assert planted not in text


def test_filled_packets_import_unblinded_and_decide_reads_them_as_reviews_paired_by_item(run: Path,
                                                                                          tmp_path: Path) -> None:
    keys = keys_of(run)
    filled = []
    for reviewer in REVIEWERS:
        path = tmp_path / f"{reviewer}.jsonl"
        rows = list(read_jsonl(run / "packets" / f"{reviewer}.jsonl", SingleRow))
        for r in rows:  # planted: every AI answer is scored 5, every human answer 3
            ai = keys[r.review_id].source == "ai"
            r.score, r.acceptable, r.critical, r.comment = (5 if ai else 3), True, False, ""
        path.write_text("".join(r.model_dump_json() + "\n" for r in rows))
        filled.append(path)
    sheet = tmp_path / "qa_01.csv"  # the same reviewer's packet filled in as a spreadsheet instead
    with open(run / "packets" / "qa_01.csv", newline="") as fh:
        cells = list(csv.DictReader(fh))
    with open(sheet, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(cells[0]))
        writer.writeheader()
        for c in cells:
            writer.writerow({**c, "score": 5 if keys[c["review_id"]].source == "ai" else 3, "acceptable": "TRUE",
                             "critical": "false"})
    assert [r.model_dump(exclude={"source_file", "line"}) for r in _import(run, sheet).rejections] == []
    from_sheet = [r.model_dump(exclude={"source_file", "line"}) for r in read_jsonl(RunFolder(run).reviews, UnblindedReview)]
    _import(run, filled[0])
    from_jsonl = [r.model_dump(exclude={"source_file", "line"}) for r in read_jsonl(RunFolder(run).reviews, UnblindedReview)]
    assert from_sheet == from_jsonl
    summary = _import(run, *filled)
    assert summary.kept == len(keys) and summary.rejected == 0
    reviews = list(read_jsonl(RunFolder(run).reviews, UnblindedReview))
    assert all((r.side == "ai") == (r.score == 5) and r.side == keys[r.review_id].source for r in reviews)
    decisions = decide_to_file(run, Policy(min_rated=20), seed=0)
    assert decisions.categories and {c.evidence for c in decisions.categories} == {"reviews_paired"}
    assert all(c.rated_items and c.rated_items >= 20 for c in decisions.categories)


def test_label_studio_single_tasks_round_trip_into_reviews(tmp_path: Path) -> None:
    run = single_run(tmp_path, per_category=15, reviewers=REVIEWERS[:3])
    keys = keys_of(run)
    tasks = json.loads((run / "packets" / "qa_01.labelstudio.json").read_text())
    result = [{"from_name": "score", "to_name": "answer", "type": "rating", "value": {"rating": 4}},
              {"from_name": "flags", "to_name": "answer", "type": "choices",
               "value": {"choices": ["Acceptable to send", "critical"]}},
              {"from_name": "comment", "to_name": "answer", "type": "textarea", "value": {"text": ["checked"]}}]
    export = [{**t, "annotations": [{"result": result, "lead_time": 12.34}]} for t in tasks[1:]] + [tasks[0]]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export))
    summary = _import(run, path)
    assert (summary.kept, summary.rejected) == (len(tasks) - 1, 1)
    assert summary.rejections[0].line == len(tasks) and summary.rejections[0].reason == "missing_field"
    for r in read_jsonl(RunFolder(run).reviews, UnblindedReview):
        k = keys[r.review_id]
        assert (r.item_id, r.side, r.reviewer) == (k.item_id, k.source, "qa_01")
        assert (r.score, r.acceptable, r.critical, r.comment) == (4.0, True, True, "checked")


def test_the_app_stores_single_reviews_and_its_export_imports_through_the_key(tmp_path: Path) -> None:
    run = single_run(tmp_path, per_category=10, reviewers=REVIEWERS[:2])
    tokens = json.loads((run / "packets" / "tokens.json").read_text())
    client = TestClient(create_app(run))
    token = tokens["qa_01"]
    items = client.get(f"/api/{token}/queue").json()["items"]
    assert items and all(i["kind"] == "single" and i["answer"] and "answer_x" not in i for i in items)
    assert not re.search(r"\b(replayed|historical|source)\b", json.dumps(items))
    first = items[0]["rating_id"]
    body = {"score": 2, "acceptable": False, "critical": True, "comment": "wrong policy", "seconds": 30.0}
    assert client.put(f"/api/{token}/reviews/{first}", json=body).status_code == 200
    paired = {"score_x": 4, "score_y": 2, "preference": "x"}
    assert client.put(f"/api/{token}/ratings/{first}", json=paired).status_code == 404
    assert client.put(f"/api/{token}/reviews/{first}", json={**body, "score": 6}).status_code == 422
    assert client.put(f"/api/{tokens['qa_02']}/reviews/{first}", json=body).status_code == 404
    again = client.get(f"/api/{token}/queue").json()["items"][0]["rating"]
    assert again == body
    exported = export_reviews(run)
    assert exported is not None and exported[1] == 1
    summary = _import(run, exported[0])
    assert summary.kept == 1
    review = next(iter(read_jsonl(RunFolder(run).reviews, UnblindedReview)))
    key = keys_of(run)[first]
    assert (review.item_id, review.side, review.score, review.critical) == (key.item_id, key.source, 2.0, True)
