"""Load: 20 reviewers post 50 ratings each at once, with repeats, against the real server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from servers import running

from eval.ratings.app import db
from eval.ratings.app.server import create_app
from eval.ratings.export import export_ratings
from eval.ratings.packets import PacketRow, ShownTurn
from eval.store import write_json, write_jsonl

REVIEWERS = [f"qa_{i:02d}" for i in range(1, 21)]
PER_REVIEWER = 50



@pytest.fixture()
def server(tmp_path: Path) -> Iterator[tuple[str, Path, dict[str, str]]]:
    tokens = {r: f"token-{r}-{i}" for i, r in enumerate(REVIEWERS)}
    for reviewer in REVIEWERS:
        write_jsonl(tmp_path / "packets" / f"{reviewer}.jsonl", [
            PacketRow(rating_id=f"{reviewer}-{i}", reviewer=reviewer, position=i + 1, category="c",
                      context=[ShownTurn(role="customer", text="hello")], answer_x="x", answer_y="y")
            for i in range(PER_REVIEWER)
        ])
    write_json(tmp_path / "packets" / "tokens.json", tokens)
    with running(create_app(tmp_path)) as port:
        yield f"http://127.0.0.1:{port}", tmp_path, tokens


def rate_all(base: str, reviewer: str, token: str) -> list[int]:
    """Every rating of the queue, each sent twice (a double submit), the first ten a third time."""
    statuses = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for i in [*range(PER_REVIEWER), *range(PER_REVIEWER), *range(10)]:
            body = {"score_x": 1 + i % 5, "score_y": 5 - i % 5, "preference": "x", "acceptable_x": i % 2 == 0,
                    "seconds": float(i)}
            statuses.append(client.put(f"/api/{token}/ratings/{reviewer}-{i}", json=body).status_code)
    return statuses


def test_twenty_concurrent_reviewers_store_exactly_one_thousand_ratings(server) -> None:
    base, run, tokens = server
    with ThreadPoolExecutor(max_workers=len(REVIEWERS)) as pool:
        results = list(pool.map(lambda r: rate_all(base, r, tokens[r]), REVIEWERS))
    assert all(s == 200 for statuses in results for s in statuses)
    with db.connect(db.db_path(run)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM ratings").fetchone()[0] == 1000
        per = dict(conn.execute("SELECT reviewer, COUNT(*) FROM ratings GROUP BY reviewer").fetchall())
    assert per == dict.fromkeys(REVIEWERS, PER_REVIEWER)
    _, n = export_ratings(run)
    assert n == 1000


def test_the_real_server_checks_tokens(server) -> None:
    base, _, tokens = server
    assert httpx.get(f"{base}/api/{tokens['qa_01']}/queue").status_code == 200
    assert httpx.get(f"{base}/api/not-a-token/queue").status_code == 403
