"""The stage registry: each stage's name, the run-folder files it reads and writes, the function
that runs it and how its recorded summary is read back. ``run``, resume, ``--force`` and the CLI
verbs all go through it; a new stage is one entry here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from eval.config import ConfigError, RunConfig
from eval.engines import Engine
from eval.errors import MissingInput, UsageError
from eval.progress import Advance
from eval.run.folder import Artifact, RunFolder
from eval.run.manifest import completed_stage, files_state, load_manifest, now, stage_files, update_manifest

Bar = Callable[[str, int | None], AbstractContextManager[Advance]]


@dataclass
class Context:
    """What a stage function gets: the run's config, folder, progress bars and engine, and the
    summaries of the stages before it in this run (for the bars' totals)."""

    cfg: RunConfig
    folder: RunFolder
    bar: Bar
    engine: Engine | None = None
    summaries: dict[str, Any] = field(default_factory=dict)

    def count(self, stage: str, name: str) -> int | None:
        summary = self.summaries.get(stage)
        return None if summary is None else getattr(summary, name)


@dataclass(frozen=True)
class Stage:
    """``resumable``: a finished run of it whose files are unchanged is skipped (the judge always
    runs: a model judge records no files, an import of verdicts skips itself when nothing changed).
    ``optional``: reads it can do without."""

    name: str
    reads: tuple[Artifact, ...]
    writes: tuple[Artifact, ...]
    run: Callable[[Context], Any]
    summary: Callable[[dict[str, Any], RunFolder], Any]
    wanted: Callable[[RunConfig], bool] = lambda cfg: True
    resumable: bool = True
    optional: tuple[Artifact, ...] = ()


def record(ctx: Context, stage: str, started: float, summary: BaseModel, exclude: set[str] | None = None,
           **extra: Any) -> None:
    entry = STAGES[stage]
    update_manifest(ctx.folder, stages={stage: {
        "seconds": round(time.perf_counter() - started, 3),
        "finished_at": now(),
        "summary": summary.model_dump(mode="json", exclude=exclude),
        "files": stage_files(ctx.folder, entry.reads, entry.writes),
        **extra,
    }})


def finished(folder: RunFolder, name: str) -> Any | None:
    """The summary of a stage an earlier run of this folder finished, if its files are unchanged."""
    stage = STAGES[name]
    entry = completed_stage(folder, name, stage.reads, stage.writes) if stage.resumable else None
    return None if entry is None else stage.summary(entry["summary"], folder)


def run_stage(name: str, cfg: RunConfig, folder: RunFolder, bar: Bar, engine: Engine | None = None) -> Any:
    """One stage alone (a CLI verb), reading what the stage before it left in the folder."""
    stage = STAGES[name]
    for artifact in stage.reads:
        if artifact not in stage.optional and not folder.path(artifact).exists():
            maker = next(s.name for s in STAGES.values() if artifact in s.writes)
            raise MissingInput(f"{folder.path(artifact)}: not found; `support-eval {name}` needs the output of "
                               f"{maker} (run `support-eval run` or `support-eval {maker}` first)",
                               file=folder.path(artifact))
    return stage.run(Context(cfg, folder, bar, engine))


def _run_ingest(ctx: Context) -> Any:
    """In a child process (``eval.ingest.apart``): only ingest needs ``datasets``."""
    from eval.ingest.apart import ingest_apart
    from eval.ingest.mapping import data_mapping

    cfg = ctx.cfg
    started = time.perf_counter()
    mapping = data_mapping(cfg.data, cfg.resolve, str(cfg.source))
    paths = [str(cfg.resolve(p)) for p in cfg.data.paths]
    with ctx.bar("ingest", None) as advance:
        summary = ingest_apart(paths, ctx.folder.root, mapping, cfg.data.max_text_chars, advance, fmt=cfg.data.format)
    record(ctx, "ingest", started, summary)
    return summary


def _run_replay(ctx: Context) -> Any:
    from eval.replay.stage import replay_to_file

    started = time.perf_counter()
    with ctx.bar("replay", ctx.count("ingest", "kept")) as advance:
        summary = replay_to_file(ctx.folder.tickets, ctx.folder.items, ctx.cfg.replay, ctx.cfg.resolve, advance,
                                 engine=ctx.engine)
    record(ctx, "replay", started, summary)
    return summary


def _run_score(ctx: Context) -> Any:
    from eval.judges.rubric import rubric_judge
    from eval.judges.runner import JudgeRunner
    from eval.rubrics import score_to_file
    from eval.rubrics.extend import rubrics_path

    cfg = ctx.cfg
    started = time.perf_counter()
    judge = None if cfg.judge_endpoint is None else JudgeRunner.from_config(cfg.judge_endpoint, cfg.resolve)
    try:
        with ctx.bar("score", ctx.count("replay", "items")) as advance:
            summary = score_to_file(ctx.folder.items, ctx.folder.scores, rubrics_path(cfg), advance,
                                    judge=None if judge is None else rubric_judge(judge), engine=ctx.engine)
    finally:
        if judge is not None:
            judge.close()
    record(ctx, "score", started, summary)
    if judge is not None:
        update_manifest(ctx.folder, judge_usage=judge.stats)
    return summary


def import_ratings_into(ctx: Context, files: list[Any] | None = None, key: Any = None) -> Any:
    """Unblind reviewer files through the key into RUN/ratings.jsonl (config files by default)."""
    from eval.ratings import import_ratings

    cfg = ctx.cfg
    started = time.perf_counter()
    files = files or [cfg.resolve(f) for f in cfg.ratings.files]
    key = key or (cfg.resolve(cfg.ratings.key) if cfg.ratings.key else ctx.folder.key)
    if not files:
        raise ConfigError(f"{cfg.source}: key 'ratings.files': no reviewer files to import")
    summary = import_ratings(files, key, ctx.folder.items, ctx.folder.ratings)
    record(ctx, "ratings", started, summary, exclude={"rejections"})
    return summary


def import_reviews_into(ctx: Context, files: list[Any] | None = None, scale: tuple[float, float] | None = None) -> Any:
    """Single-answer review files into RUN/reviews.jsonl: the config's, or ``files`` read with ``scale``
    (else the config's scale) and the config's columns."""
    from pathlib import Path

    from pydantic import ValidationError

    from eval.config import ReviewFile, problems
    from eval.ratings.reviews import import_reviews

    cfg = ctx.cfg
    started = time.perf_counter()
    reviews = cfg.reviews
    if files:
        try:
            given = [ReviewFile(path=str(Path(f).resolve()), scale=scale) for f in files]
        except ValidationError as exc:
            raise UsageError(f"--scale: {problems(exc)}") from exc
        reviews = reviews.model_copy(update={"files": given})
    specs = [s.model_copy(update={"path": str(cfg.resolve(s.path))}) for s in reviews.file_specs()]
    if not specs:
        raise ConfigError(f"{cfg.source}: key 'reviews.files': no review files to import")
    folder = ctx.folder
    summary = import_reviews(specs, folder.items, folder.reviews, folder.reviews_rejected, folder.review_key, folder.audit_key)
    record(ctx, "reviews", started, summary, exclude={"rejections"})
    return summary


def _with_rejections(path: str, name: str) -> Callable[[dict[str, Any], RunFolder], Any]:
    """An import summary read back with its rejections, which the manifest leaves in their own file."""
    def read(summary: dict[str, Any], folder: RunFolder) -> Any:
        from importlib import import_module
        from pathlib import Path

        from eval.records import Quarantined
        from eval.store import read_jsonl

        rejections = list(read_jsonl(Path(summary["rejections_path"]), Quarantined))
        return getattr(import_module(path), name).model_validate({**summary, "rejections": rejections})
    return read


def policy_of(cfg: RunConfig) -> Any:
    """The config's policy: inline, a YAML file next to the config, or the shipped default."""
    from eval.policy import load_policy

    return load_policy(cfg.resolve(cfg.policy) if isinstance(cfg.policy, str) else cfg.policy)


def with_policy(cfg: RunConfig, **keys: Any) -> RunConfig:
    """The config with these policy keys set over its own policy: a CLI flag beats the config."""
    return cfg.model_copy(update={"policy": policy_of(cfg).model_dump(mode="json") | keys})


def _run_decide(ctx: Context) -> Any:
    """Reviewer agreement (RUN/agreement.json), then the tier per category (RUN/decisions.json)."""
    from eval.decide import decide_to_file

    started = time.perf_counter()
    decisions = decide_to_file(ctx.folder.root, policy_of(ctx.cfg), ctx.cfg.seed)
    record(ctx, "decide", started, decisions, exclude={"categories", "policy"})
    update_manifest(ctx.folder, tiers={c.category: c.tier for c in decisions.categories})
    return decisions


def _decisions(summary: dict[str, Any], folder: RunFolder) -> Any:
    from eval.report.sources import read_decisions

    return read_decisions(folder.path("decisions"))[0]


def _pairwise(ctx: Context) -> dict[str, int]:
    """Our pairwise judge over every item (two model calls each) into RUN/judge_pairwise.jsonl."""
    from eval.judges.pairwise import pairwise_to_file
    from eval.judges.runner import JudgeRunner

    assert ctx.cfg.judge_endpoint is not None
    runner = JudgeRunner.from_config(ctx.cfg.judge_endpoint, ctx.cfg.resolve)
    try:
        counts = pairwise_to_file(ctx.folder.items, ctx.folder.judge_pairwise, runner)
    finally:
        runner.close()
    update_manifest(ctx.folder, judge_pairwise_usage=runner.stats)
    return counts


def _calibrated(ctx: Context) -> list[str]:
    """The judge's calibration against reviewers (RUN/judge_calibration.json) where ratings exist;
    the categories it may be trusted in."""
    from eval.judges.calibration import calibration_to_file

    if ctx.cfg.judge is None or not ctx.folder.ratings.exists():
        return []
    calibration = calibration_to_file(ctx.folder.root, ctx.cfg.judge.min_items)
    return sorted(c for c, cal in calibration.items() if cal.usable)


def _precomputed_judge(ctx: Context, source: Path) -> dict[str, Any]:
    """Another system's verdicts into RUN/judge.jsonl, then calibrated. An import this run finished from
    the same source into files unchanged since is not redone, so ``decide``, which reads them, need not re-run."""
    from eval.judges.precomputed import import_judge

    def state() -> dict[str, Any]:
        files = stage_files(ctx.folder, ("items", "ratings"), ("judge", "judge_rejected", "judge_calibration"))
        return {"source": files_state(ctx.folder.root, [source]), **files}

    entry = load_manifest(ctx.folder).get("stages", {}).get("judge", {})
    if entry.get("files") == state() and "imported" in entry.get("summary", {}):
        return dict(entry["summary"])
    started = time.perf_counter()
    summary = import_judge(source, ctx.folder.items, ctx.folder.judge, ctx.folder.judge_rejected)
    result = {"imported": summary.model_dump(mode="json"), "usable": _calibrated(ctx)}
    update_manifest(ctx.folder, stages={"judge": {"seconds": round(time.perf_counter() - started, 3),
                                                   "summary": result, "files": state()}})
    return result


def _run_judge(ctx: Context) -> dict[str, Any]:
    """Another system's verdicts imported (no model calls), or our pairwise judge over every item;
    then the judge's calibration against reviewers where ratings exist."""
    from eval.config import PrecomputedJudge

    cfg = ctx.cfg
    if cfg.judge is None:
        raise ConfigError(f"{cfg.source}: key 'judge': the config has no judge (an endpoint or precomputed verdicts)")
    if isinstance(cfg.judge, PrecomputedJudge):
        return _precomputed_judge(ctx, cfg.resolve(cfg.judge.path))
    started = time.perf_counter()
    result = {"verdicts": _pairwise(ctx), "usable": _calibrated(ctx)}
    update_manifest(ctx.folder, stages={"judge": {"seconds": round(time.perf_counter() - started, 3),
                                                   "summary": result}})
    return result


def _run_report(ctx: Context) -> Any:
    """The recommendation report (RUN/report.html, report.md, figures/) from decisions.json."""
    from eval.report import write_report

    started = time.perf_counter()
    summary = write_report(ctx.folder.root)
    record(ctx, "report", started, summary)
    return summary


def _model(path: str, name: str) -> Callable[[dict[str, Any], RunFolder], Any]:
    def read(summary: dict[str, Any], folder: RunFolder) -> Any:
        from importlib import import_module

        return getattr(import_module(path), name).model_validate(summary)
    return read


def _rated(cfg: RunConfig) -> bool:
    return bool(cfg.ratings.files)


def _reviewed(cfg: RunConfig) -> bool:
    return bool(cfg.reviews.files)


def _judged(cfg: RunConfig) -> bool:
    """Imported verdicts always; our pairwise judge only when asked (it costs two calls per item)."""
    return cfg.judge is not None and (cfg.judge_endpoint is None or cfg.judge_endpoint.pairwise)


STAGES: dict[str, Stage] = {s.name: s for s in (
    Stage("ingest", (), ("tickets", "quarantine"), _run_ingest, _model("eval.ingest.stage", "IngestSummary")),
    Stage("replay", ("tickets",), ("items",), _run_replay, _model("eval.replay.tally", "ReplaySummary")),
    Stage("score", ("items",), ("scores",), _run_score, _model("eval.rubrics.score", "ScoreSummary")),
    Stage("ratings", ("items",), ("ratings", "ratings_rejected"), import_ratings_into,
          _with_rejections("eval.ratings.importer", "ImportSummary"), _rated),
    Stage("reviews", ("items",), ("reviews", "reviews_rejected"), import_reviews_into,
          _with_rejections("eval.ratings.reviews", "ReviewsSummary"), _reviewed),
    Stage("judge", ("items", "ratings"), ("judge", "judge_rejected", "judge_pairwise", "judge_calibration"),
          _run_judge, lambda s, f: s, _judged, resumable=False, optional=("ratings",)),
    Stage("decide", ("ratings", "reviews", "items", "scores", "tickets", "judge", "judge_pairwise"),
          ("agreement", "decisions", "router_training"), _run_decide, _decisions,
          optional=("ratings", "reviews", "scores", "tickets", "judge", "judge_pairwise")),
    Stage("report", ("decisions", "agreement", "ratings", "scores", "items", "tickets"), ("report_html", "report_md"),
          _run_report, _model("eval.report", "ReportSummary"), optional=("agreement", "ratings", "scores", "tickets")),
)}
"""In run order."""
