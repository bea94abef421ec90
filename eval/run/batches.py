"""The one checkpointed batch loop: every stage that writes in batches writes through it.

A stage hands over the files it writes, the key of its work, and a function from the resumed
(position, state) to its totals and its results in input order; each result's texts are
appended, its counts merged, and once ``batch_rows()`` records are pending a batch is committed
(before the progress bar moves), so a killed stage resumes from its last complete batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

from eval.store import Checkpoint, batch_rows


class Batch(Protocol):
    """One result: a text per output file with its line count, and where the input stands."""

    @property
    def position(self) -> dict[str, int]: ...

    @property
    def rows(self) -> int: ...

    @property
    def done(self) -> int: ...

    def texts(self) -> Sequence[tuple[str | bytes, int]]: ...


B = TypeVar("B", bound=Batch)


class Totals(Protocol[B]):  # type: ignore[misc]
    def add(self, batch: B) -> None: ...

    def state(self) -> dict[str, Any]: ...


T = TypeVar("T", bound=Totals[Any])

Resumed = dict[str, Any] | None
Start = Callable[[dict[str, int], Resumed], tuple[T, Iterator[B]]]


def checkpointed(paths: Sequence[Path], key: dict[str, Any], start: Start[T, B],
                 advance: Callable[[int], None] | None = None,
                 verify: Callable[[T, list[int]], None] | None = None) -> T:
    """Write ``start``'s results to ``paths``; ``start(position, state)`` gets where a resumed
    stage stands (the beginning and None when fresh). ``advance(n)``: n more units done.
    ``verify(totals, lines per file)`` runs before the files take their final names, so a stage
    whose counts do not reconcile never leaves files that look finished."""
    with Checkpoint(list(paths), key) as out:
        resumed = out.open()
        position = resumed["position"] if resumed else {"offset": 0, "line": 0}
        totals, results = start(position, resumed["state"] if resumed else None)
        pending, rows = 0, batch_rows()
        for result in results:
            for index, (text, lines) in enumerate(result.texts()):
                out.write(index, text, lines)
            totals.add(result)
            pending += result.rows
            if pending >= rows:
                out.commit(result.position, totals.state())
                pending = 0
            if advance is not None:
                advance(result.done)
        if verify is not None:
            verify(totals, [o.lines for o in out.outputs])
        out.finish()
    return totals
