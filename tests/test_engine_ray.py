"""The Ray engine writes the same run folder as the local engine, byte for byte.

Runs on a local Ray instance started here (``ray.init(num_cpus=2)``); Ray is the ``ray`` extra.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray is the optional 'ray' extra; `make test` installs it")

from eval.config import (
    PrecomputedResponder,
    ReplayConfig,
    RetrievalResponder,
    load_config,
)
from eval.engines import engine_for
from eval.run.pipeline import run_all
from eval.replay.shards import ticket_shards
from eval.replay.stage import replay_to_file
from eval.responders import build_responder
from eval.rubrics import score_to_file
from eval.store import BATCH_ROWS_ENV

DEMO = Path(__file__).resolve().parents[1] / "datasets" / "demo"
TICKETS = 300


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def tickets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("in") / "tickets.jsonl"
    path.write_text("".join((DEMO / "tickets.jsonl").read_text().splitlines(keepends=True)[:TICKETS]))
    return path


def _untimed(summary) -> dict:
    return summary.model_dump(exclude={"answer_seconds", "ms_per_item"})


@pytest.mark.parametrize("responder", [
    PrecomputedResponder(kind="precomputed", path="ai_answers.jsonl"),
    RetrievalResponder(history_fraction=0.5, batch_size=32),
], ids=["precomputed", "retrieval"])
def test_replay_and_score_on_ray_match_local(responder, tickets: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BATCH_ROWS_ENV, "100")
    cfg = ReplayConfig(responder=responder)
    summaries = {}
    for engine in ("local", "ray"):
        out = tmp_path / engine
        out.mkdir()
        transport = engine_for(engine)
        replay = replay_to_file(tickets, out / "items.jsonl", cfg, lambda p: DEMO / p, engine=transport)
        score = score_to_file(out / "items.jsonl", out / "scores.jsonl", DEMO / "rubrics", engine=transport)
        summaries[engine] = (_untimed(replay), score.model_dump())
    for name in ("items.jsonl", "scores.jsonl"):
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    assert summaries["ray"] == summaries["local"]
    assert summaries["local"][0]["items"] > 100


def test_groups_cut_from_a_resumed_position_are_the_rest_of_the_whole_cut(tickets: Path) -> None:
    """Every engine maps the same groups (one cutter); a resumed replay continues them."""
    responder = build_responder(RetrievalResponder(history_fraction=0.5), tickets, Path)
    start = {"offset": 0, "line": 0}
    whole = [(s.position, s.size, len(s.lines)) for s in ticket_shards(tickets, start, responder, "all", 16)]
    rest = [(s.position, s.size, len(s.lines)) for s in ticket_shards(tickets, whole[2][0], responder, "all", 16)]
    assert rest == whole[3:] and len(whole) > 5
    assert all(size >= 16 for _, size, _ in whole[:-1])


def test_run_with_the_ray_engine_writes_the_same_run_folder(tickets: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"name: t\nseed: 7\ndata: {{paths: [{tickets}]}}\n"
        f"replay: {{responder: {{kind: precomputed, path: {DEMO / 'ai_answers.jsonl'}}}}}\n"
        f"rubrics: {{path: {DEMO / 'rubrics'}}}\n"
    )
    cfg = load_config(config)

    def bar(_name, _total):
        from contextlib import nullcontext

        return nullcontext(lambda n=1: None)

    for engine in ("local", "ray"):
        run_all(cfg, tmp_path / engine, bar, engine=engine)
    for name in ("tickets.jsonl", "items.jsonl", "scores.jsonl"):
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    manifest = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    assert manifest["counts"]["items"] == len((tmp_path / "ray" / "items.jsonl").read_text().splitlines())


def test_a_replay_interrupted_on_ray_resumes_locally_to_the_same_bytes(tickets: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BATCH_ROWS_ENV, "64")
    cfg = ReplayConfig(responder=PrecomputedResponder(kind="precomputed", path="ai_answers.jsonl"))
    replay_to_file(tickets, tmp_path / "whole.jsonl", cfg, lambda p: DEMO / p)

    calls = []

    def stop_after_three(n: int) -> None:
        calls.append(n)
        if len(calls) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        replay_to_file(tickets, tmp_path / "items.jsonl", cfg, lambda p: DEMO / p, stop_after_three,
                       engine=engine_for("ray"))
    assert json.loads((tmp_path / "items.jsonl.progress.json").read_text())["batches"] >= 1
    replay_to_file(tickets, tmp_path / "items.jsonl", cfg, lambda p: DEMO / p)
    assert (tmp_path / "items.jsonl").read_bytes() == (tmp_path / "whole.jsonl").read_bytes()
