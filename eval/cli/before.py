"""The verbs up to the decision: validate, run, replay, score, synth, packets, serve, ratings, decide, judge."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from eval.cli.base import EXIT_GATE, EXIT_INPUT, _bar, _paths, _user_errors, _written, app, console, out
from eval.config import Format, load_config
from eval.errors import UsageError
from eval.run.folder import RunFolder

@app.command()
def validate(
    data: Annotated[list[str], typer.Argument(help="JSONL, CSV or Parquet files, a hub dataset name, or a helpdesk export")],
    out_dir: Annotated[Path, typer.Option("--out", help="folder for tickets.jsonl and quarantine.jsonl")],
    fmt: Annotated[Format, typer.Option("--format", help="tickets (our records), or the helpdesk export: "
                                                         "zendesk, intercom, freshdesk, messages_csv")] = "tickets",
    mapping: Annotated[Path | None, typer.Option(help="YAML mapping: source fields to ours, or an export's category")] = None,
    max_quarantine: Annotated[float, typer.Option(help="fail when a larger share is quarantined")] = 0.05,
    max_text_chars: Annotated[int, typer.Option(help="longest turn text accepted")] = 20_000,
) -> None:
    """Validate tickets: keep the good ones, quarantine every rejected record with its reason."""
    from eval.ingest import ingest_to_dir, load_mapping
    from eval.tables import print_ingest

    with _user_errors():
        spec = load_mapping(mapping) if mapping else None
        with _bar("ingest", None) as advance:
            summary = ingest_to_dir(data, out_dir, spec, max_text_chars, advance, fmt=fmt)
    print_ingest(out, summary)
    _paths("Wrote", _written(out_dir, "ingest"))
    if summary.quarantine_share > max_quarantine:
        console.print(
            f"[red]error:[/red] {summary.quarantine_share:.1%} of records quarantined, more than "
            f"--max-quarantine {max_quarantine:.1%}; see {RunFolder(out_dir).quarantine}"
        )
        raise typer.Exit(EXIT_GATE)


@app.command()
def run(
    config: Annotated[Path, typer.Argument(help="run config (YAML)")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="run folder (default reports/<name>)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="estimate model requests, tokens and cost; send nothing")] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="bypass the model response cache")] = False,
    resume: Annotated[bool, typer.Option(
        "--resume", help="continue the run in --out (the default when it exists); fail if there is none")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="start over even if --out holds a run of another config or other inputs")] = False,
    engine: Annotated[str, typer.Option(help="where replay and scoring run: local (process pool) or ray "
                                             "(Ray actors; config ray_address or RAY_ADDRESS)")] = "local",
) -> None:
    """Run the whole pipeline into one run folder; re-running continues a killed run."""
    from eval.config import without_cache
    from eval.run.pipeline import default_run_dir, run_all
    from eval.tables import print_run

    with _user_errors():
        cfg = load_config(config)
        cfg = without_cache(cfg) if no_cache else cfg
        if dry_run:
            from eval.run.pipeline import dry_run as estimate

            out.print(estimate(cfg, _bar).model_dump_json(indent=2))
            return
        run_dir = out_dir or default_run_dir(cfg)
        if resume and force:
            raise UsageError("--resume and --force contradict each other: continue the run, or start it over")
        if engine not in ("local", "ray"):
            raise UsageError(f"--engine: expected local or ray, got {engine!r}")
        summaries = run_all(cfg, run_dir, _bar, force=force, resume=resume, engine="ray" if engine == "ray" else "local")
    print_run(out, cfg, run_dir, summaries)


@app.command()
def replay(
    run_dir: Annotated[Path, typer.Argument(help="an existing run folder")],
    retry_errors: Annotated[bool, typer.Option("--retry-errors", help="re-answer only items whose AI call failed")] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="bypass the model response cache")] = False,
) -> None:
    """Re-run the replay stage of a run (reads tickets.jsonl, writes items.jsonl)."""
    from eval.config import without_cache
    from eval.run.manifest import config_of_run
    from eval.run.pipeline import run_retry_errors
    from eval.run.stages import run_stage
    from eval.tables import print_replay

    with _user_errors():
        cfg = config_of_run(run_dir)
        cfg = without_cache(cfg) if no_cache else cfg
        folder = RunFolder(run_dir)
        summary = run_retry_errors(cfg, folder) if retry_errors else run_stage("replay", cfg, folder, _bar)
    print_replay(out, summary)
    _paths("Wrote", _written(run_dir, "replay"))


@app.command()
def score(run_dir: Annotated[Path, typer.Argument(help="an existing run folder")]) -> None:
    """Re-run rubric scoring of a run (reads items.jsonl, writes scores.jsonl)."""
    from eval.run.manifest import config_of_run
    from eval.run.stages import run_stage
    from eval.tables import print_scores

    with _user_errors():
        summary = run_stage("score", config_of_run(run_dir), RunFolder(run_dir), _bar)
    print_scores(out, summary)
    _paths("Wrote", _written(run_dir, "score"))



@app.command()
def synth(
    out_dir: Annotated[Path, typer.Option("--out", help="folder for the generated files")],
    tickets: Annotated[int, typer.Option(min=1, help="number of tickets")] = 3000,
    seed: Annotated[int, typer.Option(help="same seed, same bytes")] = 7,
    workers: Annotated[int, typer.Option(min=1, help="generator processes")] = 2,
) -> None:
    """Generate realistic support data with a planted truth (tickets, shadow AI, blind ratings)."""
    from eval.synth import synth_to_dir

    with _bar("synth", tickets) as advance:
        summary = synth_to_dir(out_dir, tickets, seed, advance, workers)
    out.print(summary.model_dump_json(indent=2))
    _paths("Wrote", sorted(out_dir.glob("*.json*")))


@app.command()
def packets(
    run_dir: Annotated[Path, typer.Argument(help="an existing run folder (items.jsonl, scores.jsonl)")],
    reviewers: Annotated[str, typer.Option(help="comma-separated reviewer names, e.g. qa_01,qa_02,qa_03")],
    per_reviewer: Annotated[int, typer.Option(min=1, help="most ratings any one reviewer is given")],
    kind: Annotated[Literal["paired", "single", "audit"], typer.Option(help="paired: both answers side by side; "
        "single: one answer per row (the AI's or the human's); audit: a random sample of live AI answers")] = "paired",
    live: Annotated[Path | None, typer.Option(help="--kind audit: live tickets (tickets.jsonl; "
        "the AI's answers are agent turns with author_type bot), drawn from as decisions.json plans")] = None,
    seed: Annotated[int | None, typer.Option(help="seed of the draw (default: the run config's)")] = None,
) -> None:
    """Draw blind rating packets per reviewer, the key, reviewer links and the blinding audit (or audit packets)."""
    from eval.ratings.audit import audit_table, write_audit_packets
    from eval.ratings.packets import PacketSpec, guidelines_of_run, policy_of_run, write_packets
    from eval.tables import print_packets

    with _user_errors():
        if (kind == "audit") != (live is not None):
            raise UsageError("--live goes with --kind audit, and --kind audit needs --live")
        spec = PacketSpec(tuple(r.strip() for r in reviewers.split(",") if r.strip()), per_reviewer,
                          raters=1 if kind == "audit" else 2)
        policy, run_seed = policy_of_run(run_dir)
        seed = run_seed if seed is None else seed
        if live is not None:
            audit = write_audit_packets(run_dir, spec, live, policy, seed)
            out.print(audit_table(audit))
            return _paths("Wrote", [Path(f) for f in audit.files])
        summary = write_packets(run_dir, spec, policy, seed, guidelines_of_run(run_dir), kind)  # type: ignore[arg-type]
    print_packets(out, console, summary)
    folder = RunFolder(run_dir)
    _paths("Wrote", [folder.path("packets"), folder.review_key if kind == "single" else folder.key,
                     folder.path("blinding_audit")])


@app.command()
def serve(
    run_dir: Annotated[Path, typer.Argument(help="a run folder with packets/")],
    host: Annotated[str, typer.Option(help="address to bind; keep 127.0.0.1 unless behind a proxy")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8765,
) -> None:
    """Serve the blind rating app: one secret link per reviewer."""
    import json

    from eval.ratings.app.server import reviewer_links
    from eval.ratings.app.server import serve as serve_app

    tokens_file = RunFolder(run_dir).tokens
    if not tokens_file.exists():
        console.print(f"[red]error:[/red] {tokens_file} not found; run `support-eval packets {run_dir}` first")
        raise typer.Exit(EXIT_INPUT)
    links, warnings = reviewer_links(json.loads(tokens_file.read_text(encoding="utf-8")), host, port)
    for warning in warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")
    out.print("[bold]Reviewer links[/bold] (send each reviewer only their own):")
    for reviewer, link in links.items():
        out.print(f"  {reviewer}: {link}")
    serve_app(run_dir, host, port)


ratings_app = typer.Typer(no_args_is_help=True,
                          help="Blind ratings and single-answer reviews: export from the app, import into the run.")


@ratings_app.command("export")
def ratings_export(
    run_dir: Annotated[Path, typer.Argument(help="a run folder served with `serve`")],
    out_file: Annotated[Path | None, typer.Option("--out", help="default RUN/app_ratings.jsonl")] = None,
) -> None:
    """Write the ratings entered in the app as a reviewer file (DESIGN.md Rating columns), and the reviews of
    single-answer packets as RUN/app_reviews.jsonl (for `ratings import --reviews`)."""
    from eval.ratings.export import export_ratings, export_reviews

    with _user_errors():
        path, n = export_ratings(run_dir, out_file)
        reviews = export_reviews(run_dir)
    out.print(f"{n} ratings exported" + (f", {reviews[1]} reviews" if reviews else ""))
    _paths("Wrote", [path, *([reviews[0]] if reviews else [])])


@ratings_app.command("import")
def ratings_import(
    run_dir: Annotated[Path, typer.Argument(help="the run folder the packets were drawn from")],
    files: Annotated[list[Path] | None, typer.Argument(help="reviewer files: JSONL, CSV or a Label Studio JSON export")] = None,
    key: Annotated[Path | None, typer.Option(help="blind key (default: the config's, else RUN/key.jsonl)")] = None,
    reviews: Annotated[list[Path] | None, typer.Option(
        "--reviews", help="single-answer review file (JSONL or CSV) into RUN/reviews.jsonl; repeat for more")] = None,
    scale: Annotated[tuple[float, float] | None, typer.Option(
        help="score scale MIN MAX of the --reviews files, mapped to 1-5 (default: the config's, else 1 5)")] = None,
) -> None:
    """Unblind reviewer files into RUN/ratings.jsonl, and review files into RUN/reviews.jsonl; bad rows are
    reported with file and line."""
    from eval.run.manifest import config_of_run
    from eval.run.stages import Context, import_ratings_into, import_reviews_into
    from eval.tables import print_ratings

    with _user_errors():
        if not files and not reviews:
            raise UsageError("give reviewer files (blind ratings), --reviews files (single answers), or both")
        ctx = Context(config_of_run(run_dir), RunFolder(run_dir), _bar)
        summaries = [import_ratings_into(ctx, files, key)] if files else []
        summaries += [import_reviews_into(ctx, reviews, scale)] if reviews else []
    for summary in summaries:
        print_ratings(out, summary)
        _paths("Wrote", [Path(summary.out_path), Path(summary.rejections_path)])


app.add_typer(ratings_app, name="ratings")


@app.command()
def decide(
    run_dir: Annotated[Path, typer.Argument(help="a run folder with ratings.jsonl")],
    by: Annotated[list[str] | None, typer.Option(
        "--by", help="also decide each category per value of this ticket metadata key, e.g. language "
                     "(repeatable; replaces the policy's cut_by)")] = None,
) -> None:
    """Reviewer agreement and the recommended tier per category, with every gate and reason."""
    from eval.run.manifest import config_of_run
    from eval.run.stages import run_stage, with_policy
    from eval.tables import decisions_table

    with _user_errors():
        cfg = config_of_run(run_dir)
        decisions = run_stage("decide", with_policy(cfg, cut_by=by) if by else cfg, RunFolder(run_dir), _bar)
    out.print(decisions_table(decisions))
    out.print(decisions.reviewers_note)
    _paths("Wrote", _written(run_dir, "decide"))


@app.command()
def judge(run_dir: Annotated[Path, typer.Argument(help="a run folder; the config needs a judge section")]) -> None:
    """Pairwise judge over every item (both orders), or another system's verdicts imported
    (``judge: {kind: precomputed, path: FILE}``); calibrated against reviewers where ratings exist."""
    from eval.run.manifest import config_of_run
    from eval.run.stages import run_stage
    from eval.tables import print_judge

    with _user_errors():
        result = run_stage("judge", config_of_run(run_dir), RunFolder(run_dir), _bar)
    print_judge(out, result)
    out.print(f"judge trusted in: {', '.join(result['usable']) or 'no category'} (re-run `decide` to attach it)")
    _paths("Wrote", _written(run_dir, "judge"))
