"""The verbs after the decision: monitor, report, compare and route."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from eval.cli.base import EXIT_GATE, _bar, _paths, _user_errors, app, console, out
from eval.errors import UsageError
from eval.run.folder import RunFolder

@app.command()
def monitor(
    run_dir: Annotated[Path, typer.Argument(help="a run folder with decisions.json")],
    reviews: Annotated[list[Path] | None, typer.Argument(help="live review files (JSONL or CSV; answer: live)")] = None,
    assist_logs: Annotated[list[Path] | None, typer.Option(
        "--assist-logs", help="what agents did with AI drafts (JSONL or CSV); repeat for more")] = None,
    scale: Annotated[tuple[float, float], typer.Option(help="score scale MIN MAX of the review files")] = (1.0, 5.0),
) -> None:
    """Live audits and reviewed drafts after the decision: demote one tier when a sequential test fires (exit 1),
    recommend automate where drafts earn it; RUN/monitor.json. Files add to what earlier runs kept."""
    from eval.config import ReviewFile
    from eval.monitor import monitor_to_file
    from eval.run.manifest import config_of_run
    from eval.run.stages import policy_of
    from eval.tables import monitor_table

    with _user_errors():
        if not reviews and not assist_logs:
            raise UsageError("give live review files, --assist-logs files, or both")
        specs = [ReviewFile(path=str(p), scale=scale) for p in reviews or []]
        result, live, logs = monitor_to_file(run_dir, specs, assist_logs or [], policy_of(config_of_run(run_dir)))
    out.print(f"{live.read} live reviews read: {live.new} new, {live.already} already imported, "
              f"{len(live.rejected)} rejected; {logs.read} assist logs read: {logs.new} new, {logs.already} already "
              f"imported, {len(logs.rejected)} rejected")
    out.print(monitor_table(result))
    _paths("Wrote", [RunFolder(run_dir).path(a) for a in ("monitor", "live_reviews", "live_rejected", "assist_logs")])
    demoted = [c.category for c in result.categories if c.tier != c.tier_decided and c.tier != "automate"]
    if demoted:
        console.print(f"[red]demoted:[/red] {', '.join(demoted)}")
        raise typer.Exit(EXIT_GATE)


@app.command()
def report(run_dir: Annotated[Path, typer.Argument(help="a run folder with decisions.json")]) -> None:
    """Write the recommendation report: report.html (self-contained), report.md and figures/."""
    from eval.run.manifest import config_of_run
    from eval.run.stages import run_stage

    with _user_errors():
        summary = run_stage("report", config_of_run(run_dir), RunFolder(run_dir), _bar)
    _paths("Wrote", [Path(summary.markdown), RunFolder(run_dir).path("figures"), Path(summary.html)])
    out.print(f"[bold green]Report:[/bold green] {summary.html}")


@app.command()
def compare(
    run_a: Annotated[Path, typer.Argument(help="the baseline run folder")],
    run_b: Annotated[Path, typer.Argument(help="the run to check against it")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="folder for compare.json/.md (default RUN_B)")] = None,
) -> None:
    """Tier changes and moved estimates between two runs; exit 1 when a category lost a tier."""
    from eval.report import compare_dirs
    from eval.report.compare import comparison_table

    with _user_errors():
        cmp, paths = compare_dirs(run_a, run_b, out_dir)
    out.print(comparison_table(cmp))
    _paths("Wrote", paths)
    if cmp.lost_tier:
        console.print(f"[red]lost a tier:[/red] {', '.join(cmp.lost_tier)}")
        raise typer.Exit(EXIT_GATE)


@app.command()
def route(
    run_dir: Annotated[Path, typer.Argument(help="a decided run folder (its router/ was learned by decide)")],
    tickets: Annotated[Path, typer.Argument(help="new tickets (our ticket JSONL, as `validate` writes it)")],
    out_path: Annotated[Path, typer.Option("--out", help="where the Route records go (JSONL)")],
    answers: Annotated[Path | None, typer.Option(
        "--answers", help="the AI answers drafted for these tickets (ticket_id, turn_index, text); without "
                          "them the conversation-only router decides who takes each turn")] = None,
) -> None:
    """Every agent turn of new tickets to the AI alone, an AI draft for a person, or a person, by the run's
    router (harmful rates certified per category in decisions.json); a summary per category."""
    from eval.decide.router.apply import route_file
    from eval.decide.router.store import load_router
    from eval.tables import route_table

    with _user_errors():
        router = load_router(RunFolder(run_dir))
        with _bar("route", None) as advance:
            summary = route_file(router, tickets, out_path, answers, advance)
    out.print(route_table(summary))
    out.print(f"{summary.turns} turns of {summary.tickets} tickets routed by the {summary.variant} router")
    _paths("Wrote", [out_path])
