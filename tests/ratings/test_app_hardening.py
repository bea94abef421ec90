"""The rating app attacked the way a hostile ticket or a careless script would, on a real server.

Each test talks HTTP to uvicorn on 127.0.0.1 (not the in-process test client), so limits that
live in the server's body handling are exercised as a browser or a script would meet them.
"""

from __future__ import annotations

import json
import math
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from servers import running
from test_app import GOOD, TOKENS, make_packets
from test_packets import REVIEWERS, make_run

from eval.decide import Policy
from eval.ratings.app import db
from eval.ratings.app.server import MAX_BODY, create_app, reviewer_links
from eval.ratings.importer import import_ratings
from eval.ratings.packets import PacketSpec, write_packets

TOKEN = TOKENS["qa_01"]
RID = "r00000"


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[httpx.Client, Path]]:
    make_packets(tmp_path)
    with running(create_app(tmp_path)) as port, httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        yield client, tmp_path


def put_raw(client: httpx.Client, body: bytes | str, token: str = TOKEN, rid: str = RID) -> httpx.Response:
    return client.put(f"/api/{token}/ratings/{rid}", content=body, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("seconds", ["Infinity", "-Infinity", "NaN", "1e308", "-1", "86400.5", '"12"'])
def test_a_non_finite_or_unbounded_time_is_refused_and_the_queue_keeps_working(served, seconds: str) -> None:
    client, _ = served
    body = json.dumps({**GOOD, "seconds": 0})[:-2] + seconds + "}"
    response = put_raw(client, body)
    assert response.status_code == 422
    assert response.json()["error"].startswith("seconds:")
    assert seconds.strip('"') not in response.text
    queue = client.get(f"/api/{TOKEN}/queue")
    assert queue.status_code == 200 and all(item["rating"] is None for item in queue.json()["items"])
    assert put_raw(client, json.dumps({**GOOD, "seconds": 86400})).status_code == 200


def test_a_stored_value_from_an_older_store_cannot_break_the_queue(served) -> None:
    client, run = served
    assert put_raw(client, json.dumps(GOOD)).status_code == 200
    with db.connect(db.db_path(run)) as conn:  # as an older version without the CHECK could have stored it
        conn.execute("PRAGMA ignore_check_constraints = ON")
        conn.execute("UPDATE ratings SET seconds = ? WHERE rating_id = ?", (math.inf, RID))
    queue = client.get(f"/api/{TOKEN}/queue")
    assert queue.status_code == 200
    rated = [item["rating"] for item in queue.json()["items"] if item["rating"]]
    assert len(rated) == 1 and rated[0]["seconds"] is None and rated[0]["score_x"] == GOOD["score_x"]


def test_a_10_mb_body_gets_403_without_a_token_and_413_with_one_and_is_never_echoed(served) -> None:
    client, _ = served
    huge = json.dumps({**GOOD, "comment": "A" * 10_000_000})
    no_token = put_raw(client, huge, token="not-a-token")
    assert no_token.status_code == 403 and len(no_token.content) < 200
    with_token = put_raw(client, huge)
    assert with_token.status_code == 413 and len(with_token.content) < 200

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must hold on the stream too
        for start in range(0, len(huge), 1 << 16):
            yield huge[start:start + (1 << 16)].encode()

    streamed = client.put(f"/api/{TOKEN}/ratings/{RID}", content=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413 and len(streamed.content) < 200
    assert client.get(f"/api/{TOKEN}/queue").status_code == 200


def test_validation_errors_name_the_field_and_never_repeat_the_input(served) -> None:
    client, _ = served
    long_comment = put_raw(client, json.dumps({**GOOD, "comment": "<b>" + "B" * 6000}))
    assert long_comment.status_code == 422 and len(long_comment.content) < 300
    assert long_comment.json()["error"].startswith("comment:") and "BBBB" not in long_comment.text
    bad = put_raw(client, json.dumps({**GOOD, "score_x": 9, "preference": "<script>", "extra": "zzz-marker"}))
    message = bad.json()["error"]
    assert bad.status_code == 422 and "score_x" in message and "preference" in message and "extra" in message
    assert "<script>" not in bad.text and "zzz-marker" not in bad.text
    assert put_raw(client, b"{not json").status_code == 422
    assert len(put_raw(client, "x" * (MAX_BODY - 10)).content) < 300


def test_every_response_carries_csp_and_nosniff_and_the_favicon_exists(served) -> None:
    client, _ = served
    responses = [client.get(f"/r/{TOKEN}"), client.get(f"/api/{TOKEN}/queue"), client.get("/static/app.js"),
                 client.get("/r/wrong"), client.get("/favicon.ico"), put_raw(client, "{}")]
    for response in responses:
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
    favicon = responses[4]
    assert favicon.status_code == 200 and favicon.headers["content-type"].startswith("image/svg+xml")
    page = responses[0].text
    assert "<script>" not in page and " style=" not in page and " on" not in page.split("<body", 1)[1].split(">")[0]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_holding_tokens_or_the_key_are_private_after_packets_serve_and_import(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    write_packets(run, PacketSpec(REVIEWERS, per_reviewer=40), Policy(), seed=0)
    assert _mode(run / "key.jsonl") == 0o600 and _mode(run / "packets" / "tokens.json") == 0o600
    assert _mode(run / "packets" / "qa_01.jsonl") != 0o600  # packets themselves are meant to be handed out
    tokens = json.loads((run / "packets" / "tokens.json").read_text())
    with running(create_app(run)) as port:
        store = db.db_path(run)
        with db.connect(store) as held:  # an open reader keeps SQLite's -wal and -shm files in place
            held.execute("SELECT COUNT(*) FROM queue").fetchone()
            assert httpx.get(f"http://127.0.0.1:{port}/api/{tokens['qa_01']}/queue").status_code == 200
            for file in (store, store.with_name(store.name + "-wal"), store.with_name(store.name + "-shm")):
                assert file.exists() and _mode(file) == 0o600, file
    summary = import_ratings([run / "packets" / "qa_01.csv"], run / "key.jsonl", run / "items.jsonl",
                             run / "ratings.jsonl")
    assert summary.read > 0 and _mode(run / "ratings.jsonl") == 0o600


def test_an_older_store_made_0644_is_tightened_when_served(tmp_path: Path) -> None:
    make_packets(tmp_path)
    store = db.db_path(tmp_path)
    store.touch(mode=0o644)
    store.chmod(0o644)
    create_app(tmp_path)
    assert _mode(store) == 0o600


def test_links_for_all_interfaces_use_the_machine_address_and_warn_about_plain_http() -> None:
    links, warnings = reviewer_links({"qa_01": "tok"}, "0.0.0.0", 8765)
    assert "0.0.0.0" not in links["qa_01"] and links["qa_01"].endswith(":8765/r/tok")
    assert len(warnings) == 1 and "TLS" in warnings[0] and "clear text" in warnings[0]
    assert reviewer_links({"qa_01": "tok"}, "127.0.0.1", 8765) == ({"qa_01": "http://127.0.0.1:8765/r/tok"}, [])
    v6, _ = reviewer_links({"qa_01": "tok"}, "fd00::5", 80)
    assert v6["qa_01"] == "http://[fd00::5]:80/r/tok"


def test_interleaved_bad_and_good_writes_leave_exactly_the_good_ones(served) -> None:
    client, _ = served
    rng = np.random.default_rng(0)
    rids = [f"r0{i:04d}" for i in range(3)]
    bad = json.dumps({**GOOD, "seconds": 0})[:-2] + "1e308}"
    for _ in range(30):
        rid = rids[int(rng.integers(3))]
        assert put_raw(client, bad, rid=rid).status_code == 422
        assert put_raw(client, json.dumps(GOOD), rid=rid).status_code == 200
    items = client.get(f"/api/{TOKEN}/queue").json()["items"]
    assert all(item["rating"]["seconds"] == GOOD["seconds"] for item in items if item["rating"])
