"""Chains the stages into a run folder and keeps its manifest.

Each ``run_<stage>`` reads the files of the stage before it from the run folder, so a stage can be
re-run alone; the manifest records what each stage read, wrote, counted and how long it took.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from eval.config import ConfigError, PrecomputedResponder, RunConfig, load_config
from eval.progress import Advance
from eval.store import ARTIFACTS, fingerprint, git_revision, load_manifest, package_versions, update_manifest

Bar = Callable[[str, int | None], AbstractContextManager[Advance]]


class QuarantineExceeded(RuntimeError):
    """More of the input was rejected than the config allows: the data needs a look first."""


def default_run_dir(cfg: RunConfig) -> Path:
    return Path("reports") / cfg.name


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _input_files(cfg: RunConfig) -> list[Path]:
    paths = [cfg.resolve(p) for p in cfg.data.paths]
    if cfg.data.mapping:
        paths.append(cfg.resolve(cfg.data.mapping))
    responder = cfg.replay.responder
    if isinstance(responder, PrecomputedResponder):
        paths.append(cfg.resolve(responder.path))
    rubrics = cfg.resolve(cfg.rubrics.path)
    paths.extend(sorted(rubrics.glob("*.yaml")) if rubrics.is_dir() else [rubrics])
    return paths


def start_run(cfg: RunConfig, run_dir: Path) -> None:
    """Write the manifest header: config, its hash, input fingerprints, versions, revision."""
    run_dir.mkdir(parents=True, exist_ok=True)
    update_manifest(
        run_dir,
        name=cfg.name, seed=cfg.seed, config=cfg.model_dump(mode="json"),
        config_path=cfg.source, config_sha256=cfg.digest(),
        inputs=[fingerprint(p) for p in _input_files(cfg) if p.is_file()],
        versions=package_versions(), git_revision=git_revision(), started_at=_now(),
    )


def config_of_run(run_dir: Path) -> RunConfig:
    """The config a run was made with, so ``replay RUN`` needs no config argument."""
    manifest = load_manifest(run_dir)
    if not manifest.get("config_path"):
        raise ConfigError(f"{run_dir}: no manifest.json with a config; start it with `support-eval run`")
    return load_config(manifest["config_path"])


def _record(run_dir: Path, stage: str, started: float, summary: BaseModel) -> None:
    update_manifest(run_dir, stages={stage: {
        "seconds": round(time.perf_counter() - started, 3),
        "finished_at": _now(),
        "summary": summary.model_dump(mode="json"),
    }})


def run_ingest(cfg: RunConfig, run_dir: Path, bar: Bar) -> Any:
    from eval.ingest import ingest_to_dir, load_mapping

    started = time.perf_counter()
    mapping = load_mapping(cfg.resolve(cfg.data.mapping)) if cfg.data.mapping else None
    paths = [str(cfg.resolve(p)) for p in cfg.data.paths]
    with bar("ingest", None) as advance:
        summary = ingest_to_dir(paths, run_dir, mapping, cfg.data.max_text_chars, advance)
    _record(run_dir, "ingest", started, summary)
    if summary.quarantine_share > cfg.data.max_quarantine:
        raise QuarantineExceeded(
            f"{summary.quarantined} of {summary.read} records quarantined "
            f"({summary.quarantine_share:.1%} > max_quarantine {cfg.data.max_quarantine:.1%}); "
            f"see {run_dir / ARTIFACTS['quarantine']}"
        )
    return summary


def run_replay(cfg: RunConfig, run_dir: Path, bar: Bar, tickets: int | None = None) -> Any:
    from eval.replay import replay_to_file

    started = time.perf_counter()
    with bar("replay", tickets) as advance:
        summary = replay_to_file(
            run_dir / ARTIFACTS["tickets"], run_dir / ARTIFACTS["items"], cfg.replay, cfg.resolve, advance
        )
    _record(run_dir, "replay", started, summary)
    return summary


def run_score(cfg: RunConfig, run_dir: Path, bar: Bar, items: int | None = None) -> Any:
    from eval.rubrics import score_to_file

    started = time.perf_counter()
    with bar("score", items) as advance:
        summary = score_to_file(
            run_dir / ARTIFACTS["items"], run_dir / ARTIFACTS["scores"], cfg.resolve(cfg.rubrics.path), advance
        )
    _record(run_dir, "score", started, summary)
    return summary


def run_all(cfg: RunConfig, run_dir: Path, bar: Bar) -> dict[str, Any]:
    """ingest → replay → score; returns each stage's summary by name."""
    start_run(cfg, run_dir)
    ingest = run_ingest(cfg, run_dir, bar)
    replay = run_replay(cfg, run_dir, bar, ingest.kept)
    score = run_score(cfg, run_dir, bar, replay.items)
    update_manifest(run_dir, finished_at=_now(), counts={
        "read": ingest.read, "tickets": ingest.kept, "quarantined": ingest.quarantined,
        "items": replay.items, "ai_errors": replay.errors,
    })
    return {"ingest": ingest, "replay": replay, "score": score}
