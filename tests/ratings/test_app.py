"""The rating app through its HTTP API (FastAPI's TestClient runs the real app and SQLite store)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from eval.ratings.app import db
from eval.ratings.app.server import create_app
from eval.ratings.export import export_ratings
from eval.ratings.packets import PacketRow, ShownTurn
from eval.records import BlindKey, Rating
from eval.store import read_jsonl, write_json, write_jsonl

TOKENS = {"qa_01": "tok-one-secret", "qa_02": "tok-two-secret"}
GOOD = {"score_x": 4, "score_y": 2, "preference": "x", "acceptable_x": True, "acceptable_y": False,
        "critical_x": False, "critical_y": True, "comment": "Y promises a refund we do not give", "seconds": 41.5}


def make_packets(run: Path, per_reviewer: int = 3, tokens: dict[str, str] = TOKENS) -> None:
    for r, reviewer in enumerate(tokens):
        write_jsonl(run / "packets" / f"{reviewer}.jsonl", [
            PacketRow(rating_id=f"r{r}{i:04d}", reviewer=reviewer, position=i + 1, category="order_status",
                      context=[ShownTurn(role="customer", text=f"Where is order {i}?")],
                      answer_x=f"X answer {i} for {reviewer}", answer_y=f"Y answer {i}")
            for i in range(per_reviewer)
        ])
    write_json(run / "packets" / "tokens.json", tokens)
    write_jsonl(run / "key.jsonl", [
        BlindKey(rating_id=f"r{r}{i:04d}", item_id=f"T{i}#1", x="ai", y="human", reviewer=reviewer)
        for r, reviewer in enumerate(tokens) for i in range(per_reviewer)
    ])
    (run / "scores.jsonl").write_text('{"secret_score_marker": 0.123}\n')


@pytest.fixture()
def run(tmp_path: Path) -> Path:
    make_packets(tmp_path)
    return tmp_path


@pytest.fixture()
def client(run: Path) -> TestClient:
    return TestClient(create_app(run))


def stored(run: Path) -> list[Rating]:
    with db.connect(db.db_path(run)) as conn:
        return db.all_ratings(conn)


@pytest.mark.parametrize("path", ["/", "/r/", "/r/wrong-token", "/api/wrong-token/queue", "/api/queue",
                                  "/api//queue", "/r/tok-one-secre", "/r/tok-one-secretX"])
def test_wrong_or_missing_token_is_403(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 403


def test_put_with_a_wrong_token_is_403_and_stores_nothing(client: TestClient, run: Path) -> None:
    assert client.put("/api/nope/ratings/r00000", json=GOOD).status_code == 403
    assert stored(run) == []


def test_page_and_static_files_are_served(client: TestClient) -> None:
    page = client.get("/r/tok-one-secret")
    assert page.status_code == 200 and "Answer X" in page.text and "/static/app.js" in page.text
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/app.css").status_code == 200


def test_a_reviewer_sees_only_their_own_queue_without_key_or_scores(client: TestClient) -> None:
    client.put("/api/tok-two-secret/ratings/r10000", json=GOOD)
    data = client.get("/api/tok-one-secret/queue").json()
    assert data["reviewer"] == "qa_01"
    assert [i["rating_id"] for i in data["items"]] == ["r00000", "r00001", "r00002"]
    assert all(i["rating"] is None for i in data["items"])
    body = json.dumps(data)
    for leak in ("qa_02", "item_id", "human", '"ai"', "gold", "secret_score_marker", "r10000"):
        assert leak not in body


def test_saving_is_idempotent_and_a_second_tab_updates_the_same_rating(client: TestClient, run: Path) -> None:
    for _ in range(3):
        res = client.put("/api/tok-one-secret/ratings/r00001", json=GOOD)
        assert res.status_code == 200 and res.json()["done"] == 1 and res.json()["total"] == 3
    changed = {**GOOD, "score_x": 5}
    assert client.put("/api/tok-one-secret/ratings/r00001", json=changed).status_code == 200
    ratings = stored(run)
    assert len(ratings) == 1 and ratings[0].score_x == 5


@pytest.mark.parametrize(("change", "field"), [
    ({"score_x": 6}, "score_x"), ({"score_y": 0}, "score_y"), ({"score_x": "4"}, "score_x"),
    ({"score_x": 4.5}, "score_x"), ({"preference": "X"}, "preference"), ({"acceptable_x": "yes"}, "acceptable_x"),
    ({"seconds": -1}, "seconds"), ({"surprise": 1}, "surprise"), ({"score_x": None}, "score_x"),
])
def test_bad_form_values_get_a_message_naming_the_field_and_nothing_is_stored(
    client: TestClient, run: Path, change: dict, field: str,
) -> None:
    res = client.put("/api/tok-one-secret/ratings/r00000", json={**GOOD, **change})
    assert res.status_code == 422
    assert res.json()["error"].startswith(field)
    assert stored(run) == []


def test_missing_required_fields_are_refused(client: TestClient, run: Path) -> None:
    res = client.put("/api/tok-one-secret/ratings/r00000", json={"score_x": 3})
    assert res.status_code == 422 and "score_y" in res.json()["error"] and "preference" in res.json()["error"]
    assert stored(run) == []


def test_another_reviewers_rating_id_cannot_be_rated(client: TestClient, run: Path) -> None:
    res = client.put("/api/tok-one-secret/ratings/r10000", json=GOOD)
    assert res.status_code == 404 and stored(run) == []


def test_resume_returns_saved_ratings_and_restart_keeps_them(client: TestClient, run: Path) -> None:
    client.put("/api/tok-one-secret/ratings/r00000", json=GOOD)
    again = TestClient(create_app(run))  # a server restart reloads packets without touching ratings
    items = again.get("/api/tok-one-secret/queue").json()["items"]
    assert items[0]["rating"] == GOOD and items[1]["rating"] is None


def test_export_writes_the_design_rating_format_ready_for_import(client: TestClient, run: Path) -> None:
    client.put("/api/tok-one-secret/ratings/r00002", json=GOOD)
    client.put("/api/tok-two-secret/ratings/r10001", json={**GOOD, "preference": "tie_bad", "comment": ""})
    path, n = export_ratings(run)
    assert n == 2 and path == run / "app_ratings.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert rows[0] == {"rating_id": "r00002", "reviewer": "qa_01", **GOOD}
    assert rows[1]["reviewer"] == "qa_02" and rows[1]["preference"] == "tie_bad"
    assert [r.rating_id for r in read_jsonl(path, Rating)] == ["r00002", "r10001"]


def test_export_without_a_store_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="support-eval serve"):
        export_ratings(tmp_path)


def test_serving_without_packets_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="support-eval packets"):
        create_app(tmp_path)


def test_a_redrawn_key_voids_unrated_queue_rows_but_never_a_rating(client: TestClient, run: Path) -> None:
    client.put("/api/tok-one-secret/ratings/r00000", json=GOOD)
    write_jsonl(run / "key.jsonl", [BlindKey(rating_id="r00002", item_id="T2#1", x="ai", y="human")])
    after = TestClient(create_app(run)).get("/api/tok-one-secret/queue").json()["items"]
    assert [i["rating_id"] for i in after] == ["r00000", "r00002"]
    assert len(stored(run)) == 1
