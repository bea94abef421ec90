"""Chains the stages into a run folder and keeps its manifest.

Each ``run_<stage>`` reads the files of the stage before it from the run folder, so a stage can be
re-run alone; the manifest records what each stage read, wrote, counted and how long it took.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from eval.config import ConfigError, PrecomputedResponder, RunConfig, load_config
from eval.engines import Engine, EngineName, engine_for
from eval.run import compose
from eval.progress import Advance
from eval.rubrics.spec import rubric_files
from eval.store import (
    ARTIFACTS,
    changed_inputs,
    clear_run,
    completed_stage,
    fingerprint,
    git_revision,
    load_manifest,
    package_versions,
    stage_files,
    update_manifest,
    writing,
)

Bar = Callable[[str, int | None], AbstractContextManager[Advance]]


class QuarantineExceeded(RuntimeError):
    """More of the input was rejected than the config allows: the data needs a look first."""


class ResumeRefused(ConfigError):
    """The run folder holds a run made from another config or other inputs."""


def default_run_dir(cfg: RunConfig) -> Path:
    return Path("reports") / cfg.name


def _now() -> str:
    """UTC now, or ``SOURCE_DATE_EPOCH`` when set (the reproducible-builds convention), so two
    runs can be compared byte for byte including the start time the report shows."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    instant = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    return instant.isoformat(timespec="seconds")


def _input_files(cfg: RunConfig) -> list[Path]:
    paths = [cfg.resolve(p) for p in cfg.data.paths]
    if cfg.data.mapping:
        paths.append(cfg.resolve(cfg.data.mapping))
    responder = cfg.replay.responder
    if isinstance(responder, PrecomputedResponder):
        paths.append(cfg.resolve(responder.path))
    paths.extend(rubric_files(cfg.resolve(cfg.rubrics.path)))
    paths.extend(cfg.resolve(p) for p in cfg.ratings.files)
    if cfg.ratings.key:
        paths.append(cfg.resolve(cfg.ratings.key))
    return paths


def start_run(cfg: RunConfig, run_dir: Path, *, force: bool = False, resume: bool = False) -> bool:
    """Write the manifest header (config, its hash, input fingerprints, versions, revision), or
    continue the run already in ``run_dir``; True when continuing.

    A folder holding a run of another config or other inputs is refused unless ``force``, which
    starts over. ``resume`` insists that there is a run to continue.
    """
    manifest = load_manifest(run_dir)
    inputs = [fingerprint(p) for p in _input_files(cfg) if p.is_file()]
    if resume and not manifest.get("config_sha256"):
        raise ResumeRefused(f"{run_dir}: no run to resume (no manifest.json with a config)")
    if force and run_dir.exists():
        clear_run(run_dir)
        manifest = {}
    if manifest.get("config_sha256"):
        changes = changed_inputs(manifest, cfg.digest(), inputs)
        if changes:
            raise ResumeRefused(
                f"{run_dir} holds a run made with different inputs; changed since: {'; '.join(changes)}. "
                "Use --force to start it over, or another --out folder"
            )
        update_manifest(run_dir, resumed_at=[*manifest.get("resumed_at", []), _now()])
        return True
    with writing(run_dir):
        run_dir.mkdir(parents=True, exist_ok=True)
    update_manifest(
        run_dir,
        name=cfg.name, seed=cfg.seed, config=cfg.model_dump(mode="json"),
        config_path=cfg.source, config_sha256=cfg.digest(), inputs=inputs,
        versions=package_versions(), git_revision=git_revision(), started_at=_now(),
    )
    return False


def config_of_run(run_dir: Path) -> RunConfig:
    """The config a run was made with, so ``replay RUN`` needs no config argument."""
    manifest = load_manifest(run_dir)
    if not manifest.get("config_path"):
        raise ConfigError(f"{run_dir}: no manifest.json with a config; start it with `support-eval run`")
    return load_config(manifest["config_path"])


def _record(run_dir: Path, stage: str, started: float, summary: BaseModel, exclude: set[str] | None = None,
            **extra: Any) -> None:
    update_manifest(run_dir, stages={stage: {
        "seconds": round(time.perf_counter() - started, 3),
        "finished_at": _now(),
        "summary": summary.model_dump(mode="json", exclude=exclude),
        "files": stage_files(run_dir, stage),
        **extra,
    }})


def run_ingest(cfg: RunConfig, run_dir: Path, bar: Bar) -> Any:
    """In a child process (``eval.ingest.apart``): only ingest needs ``datasets``."""
    from eval.ingest.apart import ingest_apart

    started = time.perf_counter()
    mapping = cfg.resolve(cfg.data.mapping) if cfg.data.mapping else None
    paths = [str(cfg.resolve(p)) for p in cfg.data.paths]
    with bar("ingest", None) as advance:
        summary = ingest_apart(paths, run_dir, mapping, cfg.data.max_text_chars, advance)
    _record(run_dir, "ingest", started, summary)
    return _checked_quarantine(cfg, run_dir, summary)


def _checked_quarantine(cfg: RunConfig, run_dir: Path, summary: Any) -> Any:
    if summary.quarantine_share > cfg.data.max_quarantine:
        raise QuarantineExceeded(
            f"{summary.quarantined} of {summary.read} records quarantined "
            f"({summary.quarantine_share:.1%} > max_quarantine {cfg.data.max_quarantine:.1%}); "
            f"see {run_dir / ARTIFACTS['quarantine']}"
        )
    return summary


def run_replay(cfg: RunConfig, run_dir: Path, bar: Bar, tickets: int | None = None,
               engine: Engine | None = None) -> Any:
    from eval.replay.stage import replay_to_file

    started = time.perf_counter()
    with bar("replay", tickets) as advance:
        summary = replay_to_file(
            run_dir / ARTIFACTS["tickets"], run_dir / ARTIFACTS["items"], cfg.replay, cfg.resolve, advance,
            engine=engine,
        )
    _record(run_dir, "replay", started, summary)
    return summary


def run_score(cfg: RunConfig, run_dir: Path, bar: Bar, items: int | None = None, engine: Engine | None = None) -> Any:
    from eval.rubrics import score_to_file

    started = time.perf_counter()
    judge = _judge_runner(cfg)
    try:
        with bar("score", items) as advance:
            summary = score_to_file(
                run_dir / ARTIFACTS["items"], run_dir / ARTIFACTS["scores"], cfg.resolve(cfg.rubrics.path), advance,
                judge=None if judge is None else _rubric_judge(judge), engine=engine,
            )
    finally:
        if judge is not None:
            judge.close()
    _record(run_dir, "score", started, summary)
    if judge is not None:
        update_manifest(run_dir, judge_usage=judge.stats)
    return summary


def run_replay_and_score(cfg: RunConfig, run_dir: Path, bar: Bar, engine: Engine, tickets: int | None = None,
                         index: Any = None) -> tuple[Any, Any]:
    """Both stages in one pass (``eval.run.compose``); each is recorded in the manifest as if run
    alone, with the pass's time under replay and ``one_pass`` set on both."""
    started = time.perf_counter()
    with bar("replay + score", tickets) as advance:
        replay, score = compose.replay_and_score_to_file(
            run_dir / ARTIFACTS["tickets"], run_dir / ARTIFACTS["items"], run_dir / ARTIFACTS["scores"], cfg, advance,
            engine=engine, index=index,
        )
    _record(run_dir, "replay", started, replay, one_pass=True)
    _record(run_dir, "score", time.perf_counter(), score, one_pass=True)
    return replay, score


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
    from eval.replay.retry import retry_errors_to_file

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


def run_judge(cfg: RunConfig, run_dir: Path) -> dict[str, Any]:
    """Pairwise judge over every item, then its calibration against reviewers where ratings exist."""
    from eval.judges.calibration import calibration_to_file
    from eval.judges.pairwise import pairwise_to_file

    runner = _judge_runner(cfg)
    if runner is None:
        raise ConfigError(f"{cfg.source}: key 'judge': the config has no judge endpoint")
    started = time.perf_counter()
    try:
        counts = pairwise_to_file(run_dir / ARTIFACTS["items"], run_dir / "judge_pairwise.jsonl", runner)
    finally:
        runner.close()
    update_manifest(run_dir, judge_pairwise_usage=runner.stats)
    calibration = {}
    if (run_dir / "ratings.jsonl").exists():
        calibration = calibration_to_file(run_dir, cfg.judge.min_items)
    result = {"verdicts": counts, "usable": sorted(c for c, cal in calibration.items() if cal.usable)}
    update_manifest(run_dir, stages={"judge": {"seconds": round(time.perf_counter() - started, 3), "summary": result}})
    return result


def run_report(cfg: RunConfig, run_dir: Path) -> Any:
    """The recommendation report (RUN/report.html, report.md, figures/) from decisions.json."""
    from eval.report import write_report

    started = time.perf_counter()
    summary = write_report(run_dir)
    _record(run_dir, "report", started, summary)
    return summary


def finished(run_dir: Path, stage: str) -> Any | None:
    """The summary of a stage an earlier run of this folder finished, if its files are unchanged."""
    entry = completed_stage(run_dir, stage)
    if entry is None:
        return None
    summary = entry["summary"]
    if stage == "ingest":
        from eval.ingest.stage import IngestSummary as Model
    elif stage == "replay":
        from eval.replay.tally import ReplaySummary as Model
    elif stage == "score":
        from eval.rubrics import ScoreSummary as Model
    elif stage == "report":
        from eval.report import ReportSummary as Model
    elif stage == "ratings":
        from eval.ratings.importer import ImportSummary
        from eval.records import Quarantined
        from eval.store import read_jsonl

        rejections = list(read_jsonl(Path(summary["rejections_path"]), Quarantined))
        return ImportSummary.model_validate({**summary, "rejections": rejections})
    else:
        from eval.report.sources import read_decisions

        return read_decisions(run_dir / "decisions.json")[0]
    return Model.model_validate(summary)


def run_all(
    cfg: RunConfig, run_dir: Path, bar: Bar, *, force: bool = False, resume: bool = False,
    engine: EngineName = "local",
) -> dict[str, Any]:
    """ingest → replay → score (→ ratings → decide → report when the config lists reviewer files).

    Re-running into the same folder continues it: finished stages whose files are unchanged are
    skipped, a killed stage resumes from its last complete batch (see ``start_run``). ``engine``
    runs replay and scoring locally or on Ray, with the same bytes.
    """
    start_run(cfg, run_dir, force=force, resume=resume)
    transport = engine_for(engine, address=cfg.ray_address)
    both = compose.applies(cfg, engine) and finished(run_dir, "replay") is None
    with compose.early_responder(cfg, both) as index:
        done = finished(run_dir, "ingest")
        ingest = _checked_quarantine(cfg, run_dir, done) if done else run_ingest(cfg, run_dir, bar)
        if index is not None:
            replay, score = run_replay_and_score(cfg, run_dir, bar, transport, ingest.kept, index)
    if index is None:
        replay = finished(run_dir, "replay") or run_replay(cfg, run_dir, bar, ingest.kept, transport)
        score = finished(run_dir, "score") or run_score(cfg, run_dir, bar, replay.items, transport)
    summaries: dict[str, Any] = {"ingest": ingest, "replay": replay, "score": score}
    if cfg.ratings.files:
        summaries["ratings"] = finished(run_dir, "ratings") or run_ratings(cfg, run_dir)
    if cfg.judge is not None and cfg.judge.pairwise:
        summaries["judge"] = run_judge(cfg, run_dir)
    if cfg.ratings.files:
        summaries["decide"] = finished(run_dir, "decide") or run_decide(cfg, run_dir)
    update_manifest(run_dir, finished_at=_now(), counts={
        "read": ingest.read, "tickets": ingest.kept, "quarantined": ingest.quarantined,
        "items": replay.items, "ai_errors": replay.errors,
    })
    if "decide" in summaries:
        summaries["report"] = finished(run_dir, "report") or run_report(cfg, run_dir)
    return summaries
