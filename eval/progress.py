"""Rich progress bars for long stages; stage code only ever sees an ``advance(n)`` callback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
    TimeElapsedColumn, TimeRemainingColumn,
)

Advance = Callable[[int], None]


@contextmanager
def stage_bar(console: Console, description: str, total: int | None) -> Iterator[Advance]:
    """A bar for one stage; ``total=None`` shows a pulsing bar when the size is not known yet."""
    columns = (
        SpinnerColumn(), TextColumn("[bold]{task.description:<8}"), BarColumn(),
        MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, disable=not console.is_terminal) as bar:
        task = bar.add_task(description, total=total)

        def advance(n: int = 1) -> None:
            bar.advance(task, n)

        yield advance
