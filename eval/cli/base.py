"""The command line's shared parts: the app, its consoles, exit codes and error handling."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console

from eval.errors import GateFailed, UserError
from eval.progress import stage_bar
from eval.run.folder import RunFolder

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="The ``support-eval`` command line: each verb calls one stage function.")
console = Console(stderr=True)
out = Console(width=None if sys.stdout.isatty() else 140)

EXIT_GATE = 1
EXIT_INPUT = 2
EXIT_BUG = 3


def _bar(description: str, total: int | None):
    return stage_bar(console, description, total)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn the errors a user can fix into one red line and exit code 2, not a traceback.

    Only ``UserError`` (and a failed gate) is caught: anything else is a bug and reaches ``main``.
    """
    try:
        yield
    except GateFailed as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(EXIT_GATE) from exc
    except UserError as exc:
        console.print(f"[red]error:[/red] {getattr(exc, 'strerror', None) or exc}")
        raise typer.Exit(EXIT_INPUT) from exc


def main() -> None:
    """The console script: a bug is reported with its traceback and exit code 3, never as bad input."""
    try:
        app(prog_name="support-eval")
    except Exception:
        console.print_exception()
        console.print("[red]bug:[/red] this is a fault in support-eval (or in a responder breaking its "
                      "contract), not in your input; please report it with the traceback above")
        sys.exit(EXIT_BUG)


def _written(run_dir: Path, stage: str) -> list[Path]:
    """The files a stage writes, from the stage registry."""
    from eval.run.stages import STAGES

    folder = RunFolder(run_dir)
    return [folder.path(a) for a in STAGES[stage].writes]


def _paths(title: str, paths: list[Path]) -> None:
    out.print(f"[bold]{title}[/bold]")
    for p in paths:
        if p.exists():
            out.print(f"  {p}")
