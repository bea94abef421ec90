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


def _record(run_dir: Path, stage: str, started: float, summary: BaseModel, exclude: set[str] | None = None) -> None:
    update_manifest(run_dir, stages={stage: {
        "seconds": round(time.perf_counter() - started, 3),
        "finished_at": _now(),
        "summary": summary.model_dump(mode="json", exclude=exclude),
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
    judge = _judge_runner(cfg)
    try:
        with bar("score", items) as advance:
            summary = score_to_file(
                run_dir / ARTIFACTS["items"], run_dir / ARTIFACTS["scores"], cfg.resolve(cfg.rubrics.path), advance,
                judge=None if judge is None else _rubric_judge(judge),
            )
    finally:
        if judge is not None:
            judge.close()
    _record(run_dir, "score", started, summary)
    if judge is not None:
        update_manifest(run_dir, judge_usage=judge.stats)
    return summary


def _judge_runner(cfg: RunConfig) -> Any:
    """The ``llm_judge`` endpoint when the config has a judge section, else None."""
    if cfg.judge is None:
        return None
    from eval.judges.runner import JudgeRunner

    return JudgeRunner.from_config(cfg.judge, cfg.resolve)


def _rubric_judge(runner: Any) -> Any:
    from eval.judges.rubric import rubric_judge

    return rubric_judge(runner)


def run_retry_errors(cfg: RunConfig, run_dir: Path) -> Any:
    """Re-answer only the items whose AI call failed (``replay --retry-errors``)."""
    from eval.replay import retry_errors_to_file

    started = time.perf_counter()
    summary = retry_errors_to_file(
        run_dir / ARTIFACTS["items"], cfg.replay, cfg.resolve, run_dir / ARTIFACTS["tickets"]
    )
    _record(run_dir, "replay", started, summary)
    return summary


def dry_run(cfg: RunConfig, bar: Bar) -> Any:
    """Requests, tokens and cost the replay would spend (``run --dry-run``); ingests into a
    temporary folder, sends nothing. Only model responders have a cost."""
    import tempfile

    from eval.config import OpenAIResponder
    from eval.ingest import ingest_to_dir, load_mapping
    from eval.records import Ticket
    from eval.responders.openai import dry_run as estimate
    from eval.store import read_jsonl

    if not isinstance(cfg.replay.responder, OpenAIResponder):
        raise ConfigError(f"{cfg.source}: --dry-run estimates model costs; responder "
                          f"'{cfg.replay.responder.kind}' sends no requests")
    mapping = load_mapping(cfg.resolve(cfg.data.mapping)) if cfg.data.mapping else None
    with tempfile.TemporaryDirectory() as tmp:
        with bar("ingest", None) as advance:
            ingest_to_dir([str(cfg.resolve(p)) for p in cfg.data.paths], Path(tmp), mapping,
                          cfg.data.max_text_chars, advance)
        tickets = read_jsonl(Path(tmp) / ARTIFACTS["tickets"], Ticket)
        return estimate(cfg.replay.responder, tickets, cfg.replay.turns, cfg.resolve)


def policy_of(cfg: RunConfig) -> Any:
    """The config's policy: inline, a YAML file next to the config, or the shipped default."""
    from eval.decide import load_policy

    return load_policy(cfg.resolve(cfg.policy) if isinstance(cfg.policy, str) else cfg.policy)


def run_ratings(cfg: RunConfig, run_dir: Path, files: list[Path] | None = None, key: Path | None = None) -> Any:
    """Unblind reviewer files through the key into RUN/ratings.jsonl (config files by default)."""
    from eval.ratings import import_ratings

    started = time.perf_counter()
    files = files or [cfg.resolve(f) for f in cfg.ratings.files]
    key = key or (cfg.resolve(cfg.ratings.key) if cfg.ratings.key else run_dir / "key.jsonl")
    if not files:
        raise ConfigError(f"{cfg.source}: key 'ratings.files': no reviewer files to import")
    summary = import_ratings(files, key, run_dir / ARTIFACTS["items"], run_dir / "ratings.jsonl")
    _record(run_dir, "ratings", started, summary, exclude={"rejections"})
    return summary


def run_decide(cfg: RunConfig, run_dir: Path) -> Any:
    """Reviewer agreement (RUN/agreement.json), then the tier per category (RUN/decisions.json)."""
    from eval.decide import decide_to_file
    from eval.ratings import agreement_to_file

    started = time.perf_counter()
    policy = policy_of(cfg)
    agreement_to_file(run_dir, policy, cfg.seed)
    decisions = decide_to_file(run_dir, policy, cfg.seed)
    _record(run_dir, "decide", started, decisions, exclude={"categories", "policy"})
    update_manifest(run_dir, tiers={c.category: c.tier for c in decisions.categories})
    return decisions


def run_all(cfg: RunConfig, run_dir: Path, bar: Bar) -> dict[str, Any]:
    """ingest → replay → score (→ ratings → decide when the config lists reviewer files)."""
    start_run(cfg, run_dir)
    ingest = run_ingest(cfg, run_dir, bar)
    replay = run_replay(cfg, run_dir, bar, ingest.kept)
    score = run_score(cfg, run_dir, bar, replay.items)
    summaries: dict[str, Any] = {"ingest": ingest, "replay": replay, "score": score}
    if cfg.ratings.files:
        summaries["ratings"] = run_ratings(cfg, run_dir)
        summaries["decide"] = run_decide(cfg, run_dir)
    update_manifest(run_dir, finished_at=_now(), counts={
        "read": ingest.read, "tickets": ingest.kept, "quarantined": ingest.quarantined,
        "items": replay.items, "ai_errors": replay.errors,
    })
    return summaries
