"""Chains the stages into a run folder: starts or continues the run, then runs each stage of the
registry (``eval.run.stages``) that the config wants and an earlier run has not finished.
"""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from eval.errors import GateFailed
from eval.config import ConfigError, PrecomputedJudge, PrecomputedResponder, RunConfig
from eval.engines import EngineName, engine_for
from eval.rubrics.extend import rubrics_path
from eval.rubrics.spec import rubric_files
from eval.run import compose
from eval.run.folder import RunFolder
from eval.run.manifest import (
    changed_inputs,
    clear_run,
    fingerprint,
    git_revision,
    load_manifest,
    now,
    package_versions,
    update_manifest,
)
from eval.run.stages import STAGES, Bar, Context, finished, record
from eval.store import writing


class QuarantineExceeded(GateFailed):
    """More of the input was rejected than the config allows: the data needs a look first."""


class ResumeRefused(ConfigError):
    """The run folder holds a run made from another config or other inputs."""


def default_run_dir(cfg: RunConfig) -> Path:
    return Path("reports") / cfg.name


def _input_files(cfg: RunConfig) -> list[Path]:
    from eval.ingest.mapping import data_mapping, mapping_files

    paths = [cfg.resolve(p) for p in cfg.data.paths]
    if isinstance(cfg.data.mapping, str):
        paths.append(cfg.resolve(cfg.data.mapping))
    paths.extend(mapping_files(data_mapping(cfg.data, cfg.resolve, str(cfg.source))))
    responder = cfg.replay.responder
    if isinstance(responder, PrecomputedResponder):
        paths.append(cfg.resolve(responder.path))
    if isinstance(cfg.judge, PrecomputedJudge):
        paths.append(cfg.resolve(cfg.judge.path))
    paths.extend(rubric_files(rubrics_path(cfg)))
    paths.extend(cfg.resolve(p) for p in cfg.ratings.files)
    paths.extend(cfg.resolve(f.path) for f in cfg.reviews.file_specs())
    if cfg.ratings.key:
        paths.append(cfg.resolve(cfg.ratings.key))
    return paths


def start_run(cfg: RunConfig, folder: RunFolder, *, force: bool = False, resume: bool = False) -> bool:
    """Write the manifest header (config, its hash, input fingerprints, versions, revision), or
    continue the run already in ``folder``; True when continuing.

    A folder holding a run of another config or other inputs is refused unless ``force``, which
    starts over. ``resume`` insists that there is a run to continue.
    """
    run_dir = folder.root
    manifest = load_manifest(folder)
    inputs = [fingerprint(p) for p in _input_files(cfg) if p.is_file()]
    if resume and not manifest.get("config_sha256"):
        raise ResumeRefused(f"{run_dir}: no run to resume (no manifest.json with a config)")
    if force and run_dir.exists():
        clear_run(folder)
        manifest = {}
    if manifest.get("config_sha256"):
        changes = changed_inputs(manifest, cfg.digest(), inputs)
        if changes:
            raise ResumeRefused(
                f"{run_dir} holds a run made with different inputs; changed since: {'; '.join(changes)}. "
                "Use --force to start it over, or another --out folder"
            )
        update_manifest(folder, resumed_at=[*manifest.get("resumed_at", []), now()])
        return True
    with writing(run_dir):
        run_dir.mkdir(parents=True, exist_ok=True)
    update_manifest(
        folder,
        name=cfg.name, seed=cfg.seed, config=cfg.model_dump(mode="json"),
        config_path=cfg.source, config_sha256=cfg.digest(), inputs=inputs,
        versions=package_versions(), git_revision=git_revision(), started_at=now(),
    )
    return False


def checked_quarantine(cfg: RunConfig, folder: RunFolder, summary: Any) -> Any:
    if summary.quarantine_share > cfg.data.max_quarantine:
        raise QuarantineExceeded(
            f"{summary.quarantined} of {summary.read} records quarantined "
            f"({summary.quarantine_share:.1%} > max_quarantine {cfg.data.max_quarantine:.1%}); "
            f"see {folder.quarantine}"
        )
    return summary


def run_replay_and_score(ctx: Context, index: Future[sqlite3.Connection]) -> None:
    """Both stages in one pass (``eval.run.compose``); each is recorded in the manifest as if run
    alone, with the pass's time under replay and ``one_pass`` set on both."""
    assert ctx.engine is not None
    started = time.perf_counter()
    with ctx.bar("replay + score", ctx.count("ingest", "kept")) as advance:
        replay, score = compose.replay_and_score_to_file(
            ctx.folder.tickets, ctx.folder.items, ctx.folder.scores, ctx.cfg, advance, engine=ctx.engine, index=index,
        )
    record(ctx, "replay", started, replay, one_pass=True)
    record(ctx, "score", time.perf_counter(), score, one_pass=True)
    ctx.summaries.update(replay=replay, score=score)


def run_retry_errors(cfg: RunConfig, folder: RunFolder) -> Any:
    """Re-answer only the items whose AI call failed (``replay --retry-errors``)."""
    from eval.replay.retry import retry_errors_to_file

    started = time.perf_counter()
    summary = retry_errors_to_file(folder.items, cfg.replay, cfg.resolve, folder.tickets)
    record(Context(cfg, folder, _no_bar), "replay", started, summary)
    return summary


def _no_bar(name: str, total: int | None) -> Any:
    from contextlib import nullcontext

    return nullcontext(lambda n=1: None)


def _stage(ctx: Context, name: str) -> None:
    if name not in ctx.summaries:
        ctx.summaries[name] = finished(ctx.folder, name) or STAGES[name].run(ctx)


def run_all(
    cfg: RunConfig, run_dir: Path, bar: Bar, *, force: bool = False, resume: bool = False,
    engine: EngineName = "local",
) -> dict[str, Any]:
    """Every stage the config wants, in registry order: ingest → replay → score (→ ratings →
    reviews → judge when the config lists reviewer files, review files and a judge) → decide → report.

    Re-running into the same folder continues it: finished stages whose files are unchanged are
    skipped, a killed stage resumes from its last complete batch (see ``start_run``). ``engine``
    runs replay and scoring locally or on Ray, with the same bytes.
    """
    folder = RunFolder(run_dir)
    start_run(cfg, folder, force=force, resume=resume)
    ctx = Context(cfg, folder, bar, engine_for(engine, address=cfg.ray_address))
    both = compose.applies(cfg, engine) and finished(folder, "replay") is None
    with compose.early_index(cfg, both) as index:
        _stage(ctx, "ingest")
        checked_quarantine(cfg, folder, ctx.summaries["ingest"])
        if index is not None:
            run_replay_and_score(ctx, index)
    for name, stage in STAGES.items():
        if name == "report":
            ingest, replay = ctx.summaries["ingest"], ctx.summaries["replay"]
            update_manifest(folder, finished_at=now(), counts={
                "read": ingest.read, "tickets": ingest.kept, "quarantined": ingest.quarantined,
                "items": replay.items, "ai_errors": replay.errors,
            })
        if stage.wanted(cfg):
            _stage(ctx, name)
    return ctx.summaries


def dry_run(cfg: RunConfig, bar: Bar) -> Any:
    """Requests, tokens and cost the replay would spend (``run --dry-run``); ingests into a
    temporary folder, sends nothing. Only model responders have a cost."""
    import tempfile

    from eval.config import OpenAIResponder
    from eval.ingest import ingest_to_dir
    from eval.ingest.mapping import data_mapping
    from eval.records import Ticket
    from eval.responders.openai import dry_run as estimate
    from eval.store import read_jsonl

    if not isinstance(cfg.replay.responder, OpenAIResponder):
        raise ConfigError(f"{cfg.source}: --dry-run estimates model costs; responder "
                          f"'{cfg.replay.responder.kind}' sends no requests")
    mapping = data_mapping(cfg.data, cfg.resolve, str(cfg.source))
    with tempfile.TemporaryDirectory() as tmp:
        with bar("ingest", None) as advance:
            ingest_to_dir([str(cfg.resolve(p)) for p in cfg.data.paths], Path(tmp), mapping,
                          cfg.data.max_text_chars, advance, fmt=cfg.data.format)
        tickets = read_jsonl(RunFolder(Path(tmp)).tickets, Ticket)
        return estimate(cfg.replay.responder, tickets, cfg.replay.turns, cfg.resolve)
