"""Ingest in a child process, so a run's main process never loads ``datasets`` (with pyarrow and
pandas, ~150 MB) and keeps that memory through replay and scoring, next to their workers.

The child runs ``ingest_to_dir`` itself (same files, same batches, same resume) and reports
progress through a queue. It is started with ``spawn`` (fresh interpreter, the current
environment) and, on Linux, dies with the run: a killed run must not leave an ingest writing on
while its resume writes the same files.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from eval.config import Format
from eval.ingest.mapping import Mapping
from eval.ingest.stage import IngestSummary

_PR_SET_PDEATHSIG = 1
_PROGRESS: list[Any] = []


def _die_with_parent(parent: int) -> None:
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the child ends when its input does
        return
    if os.getppid() != parent:  # the run died before the signal was armed
        os._exit(1)


def _start(progress: Any, parent: int) -> None:
    _die_with_parent(parent)
    _PROGRESS[:] = [progress]


def _ingest(
    paths: list[str], out_dir: str, mapping: Mapping | None, max_text_chars: int, workers: int | None, fmt: Format
) -> dict[str, Any]:
    from eval.ingest import ingest_to_dir

    return ingest_to_dir(paths, Path(out_dir), mapping, max_text_chars, _PROGRESS[0].put, workers, fmt).model_dump()


def ingest_apart(
    paths: list[str], out_dir: Path, mapping: Mapping | None, max_text_chars: int,
    advance: Callable[[int], None] | None = None, workers: int | None = None, fmt: Format = "tickets",
) -> IngestSummary:
    """``ingest_to_dir`` in a child process (with its own pool of ``workers``); its errors are raised here."""
    context = multiprocessing.get_context("spawn")
    progress = context.Queue()
    with ProcessPoolExecutor(1, mp_context=context, initializer=_start, initargs=(progress, os.getpid())) as pool:
        future = pool.submit(_ingest, paths, str(out_dir), mapping, max_text_chars, workers, fmt)
        while True:
            try:
                n = progress.get(timeout=0.1)
            except queue.Empty:
                if future.done():
                    break
                continue
            if advance is not None:
                advance(n)
        return IngestSummary.model_validate(future.result())
