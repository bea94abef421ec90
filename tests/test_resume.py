"""Kill a real `support-eval run` with SIGKILL inside every stage, resume it, and get the same bytes.

Also: a changed config or input is refused unless --force, finished stages are skipped, and a
full disk or an unwritable folder is a clear error (exit 2) that keeps the last complete batch.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "datasets" / "demo"
TICKETS = 600
SLOW_MS = 40
ENV = {"SOURCE_DATE_EPOCH": "1767225600", "SUPPORT_EVAL_BATCH_ROWS": "100", "COLUMNS": "1000"}
STAGES = ("ingest", "replay", "ratings", "decide", "report")
"""With the precomputed responder, replay and scoring are one pass (``eval.one_pass``); the
two-stage path is killed in ``test_a_two_stage_run_killed_in_replay_and_in_score_resumes``."""
TRIGGERS: dict[str, tuple[str, ...]] = {
    "ingest": ("tickets.jsonl.progress.json",),
    "replay": ("items.jsonl.progress.json",),
    "score": ("scores.jsonl.progress.json",),
    "ratings": ("ratings.jsonl.partial", "ratings.rejected.jsonl.partial"),
    "decide": ("agreement.json.partial", "decisions.json.partial"),
    "report": ("report.html.partial", "report.md.partial"),
}
"""Files that exist only while a stage is running (written batches, or an atomic file before its rename)."""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first tickets of the demo with its answers, rubrics, key, ratings and judge verdicts (those of
    the other tickets are rejected as unknown items)."""
    root = tmp_path_factory.mktemp("project")
    lines = (DEMO / "tickets.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (root / "tickets.jsonl").write_text("".join(lines[:TICKETS]), encoding="utf-8")
    for name in ("ai_answers.jsonl", "key.jsonl", "ratings.jsonl", "judge.jsonl"):
        (root / name).symlink_to(DEMO / name)
    (root / "rubrics").symlink_to(DEMO / "rubrics")
    (root / "config.yaml").write_text((DEMO / "config.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    return root


def _run(config: Path, out: Path, *args: str, extra: dict[str, str] | None = None,
         preexec: Callable[[], None] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **ENV, **(extra or {})}
    return subprocess.run([sys.executable, "-m", "eval", "run", str(config), "--out", str(out), *args],
                          env=env, capture_output=True, text=True, timeout=180, preexec_fn=preexec, check=False)


@pytest.fixture(scope="module")
def reference(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reference") / "run"
    res = _run(project / "config.yaml", out)
    assert res.returncode == 0, res.stderr
    return out


def _artifacts(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*"))
            if p.is_file() and p.name != "manifest.json"}


def _stage_done(run: Path, stage: str) -> bool:
    from eval.run.folder import RunFolder
    from eval.run.stages import finished

    return finished(RunFolder(run), stage) is not None


def _kill_inside(config: Path, out: Path, stage: str, delay_s: float) -> None:
    """Start a run and SIGKILL it ``delay_s`` after one of the stage's in-progress files appears."""
    env = {**os.environ, **ENV, "SUPPORT_EVAL_TEST_SLOW_BATCH_MS": str(SLOW_MS)}
    proc = subprocess.Popen([sys.executable, "-m", "eval", "run", str(config), "--out", str(out)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not any((out / name).exists() for name in TRIGGERS[stage]):
            assert proc.poll() is None, f"the run ended before stage {stage} was seen"
            assert time.monotonic() < deadline, f"stage {stage} never started"
            time.sleep(0.002)
        time.sleep(delay_s)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not _stage_done(out, stage), f"the kill landed after stage {stage} had finished"


def test_killed_in_every_stage_and_resumed_gives_the_same_bytes(project: Path, reference: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(20261126)
    out = tmp_path / "run"
    for stage in STAGES:
        _kill_inside(project / "config.yaml", out, stage, float(rng.uniform(0, 1.5 * SLOW_MS / 1000)))
    res = _run(project / "config.yaml", out)
    assert res.returncode == 0, res.stderr

    want, got = _artifacts(reference), _artifacts(out)
    assert sorted(got) == sorted(want)  # no .partial or progress file left behind
    assert [name for name in want if got[name] != want[name]] == []
    ids = [json.loads(line)["item_id"] for line in (out / "items.jsonl").read_text().splitlines()]
    assert len(ids) == len(set(ids)) == json.loads((reference / "manifest.json").read_text())["counts"]["items"]
    assert len(json.loads((out / "manifest.json").read_text())["resumed_at"]) == len(STAGES)


def test_a_two_stage_run_killed_in_replay_and_in_score_resumes(project: Path, tmp_path: Path) -> None:
    """The retrieval responder replays and scores in two stages, each killed and resumed."""
    config = tmp_path / "retrieval.yaml"
    config.write_text(f"name: r\nseed: 7\ndata: {{paths: [{project / 'tickets.jsonl'}]}}\n"
                      f"replay: {{turns: all, responder: {{kind: retrieval, batch_size: 64}}}}\n"
                      f"rubrics: {{path: {project / 'rubrics'}}}\n", encoding="utf-8")
    reference = tmp_path / "reference"
    assert _run(config, reference).returncode == 0
    assert "one_pass" not in json.loads((reference / "manifest.json").read_text())["stages"]["score"]
    rng = np.random.default_rng(7)
    out = tmp_path / "run"
    for stage in ("replay", "score"):
        _kill_inside(config, out, stage, float(rng.uniform(0, 1.5 * SLOW_MS / 1000)))
    res = _run(config, out)
    assert res.returncode == 0, res.stderr
    assert _artifacts(out) == _artifacts(reference)


def test_a_finished_run_is_not_redone(project: Path, reference: Path, tmp_path: Path) -> None:
    import shutil

    out = tmp_path / "run"
    shutil.copytree(reference, out)
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.json*") if p.name != "manifest.json"}
    res = _run(project / "config.yaml", out, "--resume")
    assert res.returncode == 0, res.stderr
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.json*") if p.name != "manifest.json"} == before


def test_a_changed_input_is_refused_unless_forced(project: Path, reference: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "project"
    shutil.copytree(project, copy, symlinks=True)
    out = tmp_path / "run"
    shutil.copytree(reference, out)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["inputs"] = [{**i, "path": i["path"].replace(str(project), str(copy))} for i in manifest["inputs"]]
    manifest["config_path"] = str(copy / "config.yaml")
    (out / "manifest.json").write_text(json.dumps(manifest))
    with open(copy / "tickets.jsonl", "a", encoding="utf-8") as fh:
        fh.write((DEMO / "tickets.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)[TICKETS])

    res = _run(copy / "config.yaml", out)
    assert res.returncode == 2
    assert "tickets.jsonl (content changed)" in res.stderr and "--force" in res.stderr

    config = (copy / "config.yaml").read_text().replace("seed: 7", "seed: 8")
    (copy / "config.yaml").write_text(config)
    res = _run(copy / "config.yaml", out)
    assert res.returncode == 2 and "the config" in res.stderr

    stale = ("monitor.json", "live_reviews.jsonl", "live_reviews.rejected.jsonl", "assist_logs.jsonl",
             "assist_logs.rejected.jsonl")  # what monitor kept after the old decisions
    for name in stale:
        (out / name).write_text("{}\n")
    res = _run(copy / "config.yaml", out, "--force")
    assert res.returncode == 0, res.stderr
    assert len((out / "tickets.jsonl").read_text().splitlines()) == TICKETS + 1
    assert not [name for name in stale if (out / name).exists()]


def test_resume_needs_a_run(project: Path, tmp_path: Path) -> None:
    res = _run(project / "config.yaml", tmp_path / "nothing", "--resume")
    assert res.returncode == 2 and "no run to resume" in res.stderr


def _file_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_a_full_disk_is_a_clear_error_and_keeps_the_last_batch(project: Path, reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = _run(project / "config.yaml", out, preexec=_file_limit(1_000_000))
    assert res.returncode == 2, res.stderr
    assert "cannot write" in res.stderr and "File too large" in res.stderr and "Traceback" not in res.stderr
    progress = json.loads((out / "items.jsonl.progress.json").read_text())
    committed = progress["outputs"][0]["bytes"]
    assert 0 < committed <= 1_000_000
    assert (out / "items.jsonl.partial").read_bytes()[:committed] == (reference / "items.jsonl").read_bytes()[:committed]

    res = _run(project / "config.yaml", out)
    assert res.returncode == 0, res.stderr
    assert (out / "items.jsonl").read_bytes() == (reference / "items.jsonl").read_bytes()


def test_an_unwritable_output_folder_is_a_clear_error(project: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    res = _run(project / "config.yaml", blocker / "run")
    assert res.returncode == 2
    assert "cannot write" in res.stderr and "Traceback" not in res.stderr
