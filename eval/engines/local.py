"""The local engine: ordered parallel map over shards on this machine's threads or processes.

Written here rather than with ``multiprocessing.Pool.imap`` or ``Executor.map``: both take the
whole input up front (``imap``'s feeder thread drains the iterator), which would hold every
batch of a million-item file in memory. This keeps at most ``2 * workers`` batches in flight and
yields results in input order, so output bytes do not depend on the number of workers.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from itertools import chain
from functools import partial
from typing import Any, TypeVar

from eval.engines.base import EngineName, Job

T = TypeVar("T")
R = TypeVar("R")


def available_cpus() -> int:
    """Cores this process may use (its CPU affinity), not the machine's total."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def ordered_map(
    fn: Callable[[T], R], batches: Iterable[T], workers: int,
    initializer: Callable[..., None] | None = None, initargs: tuple[Any, ...] = (),
) -> Iterator[R]:
    """``fn`` over ``batches`` in ``workers`` processes, results in input order.

    A single batch, or ``workers <= 1``, runs in this process: starting a pool costs more than
    a small input. ``fn`` and ``initializer`` must be module-level functions (they are pickled).
    """
    it = iter(batches)
    head = [b for _, b in zip(range(2), it)]
    if workers <= 1 or len(head) < 2:
        if initializer is not None:
            initializer(*initargs)
        for batch in chain(head, it):
            yield fn(batch)
        return
    # forkserver: forking a process that already runs Arrow/datasets threads can deadlock.
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=initializer, initargs=initargs) as pool:
        yield from _in_order(pool, fn, chain(head, it), 2 * workers)


def ordered_threads(fn: Callable[[T], R], batches: Iterable[T], workers: int) -> Iterator[R]:
    """``fn`` over ``batches`` in ``workers`` threads, results in input order.

    For batches that mostly wait on a network: while one batch's last requests are still out,
    the next batch's are already sent, so a model endpoint never idles between batches.
    """
    if workers <= 1:
        yield from map(fn, batches)
        return
    with ThreadPoolExecutor(workers) as pool:
        yield from _in_order(pool, fn, iter(batches), workers)


def _in_order(pool: Executor, fn: Callable[[T], R], it: Iterator[T], limit: int) -> Iterator[R]:
    """At most ``limit`` batches in flight; results yielded in submission order."""
    inflight: deque[Future[R]] = deque()
    for batch in it:
        if len(inflight) >= limit:
            yield inflight.popleft().result()
        inflight.append(pool.submit(fn, batch))
    while inflight:
        yield inflight.popleft().result()


class LocalEngine:
    """Threads for jobs that wait, processes for the others, this process for state that
    cannot travel."""

    name: EngineName = "local"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = available_cpus() if workers is None else workers

    def map(self, job: Job[T, R], shards: Iterable[T]) -> Iterator[R]:
        if job.threads or job.setup is None:
            return ordered_threads(partial(job.run, job.local_state()), shards, max(job.threads, 1))
        return ordered_map(partial(_run_in_worker, job.run), shards, self.workers, _start_worker,
                           (job.setup, job.args))


_STATE: list[Any] = [None]
"""The state of a pool process, built once by ``_start_worker`` (it lives as long as the process)."""


def _start_worker(setup: Callable[..., Any], args: tuple[Any, ...]) -> None:
    _STATE[0] = setup(*args)


def _run_in_worker(run: Callable[[Any, T], R], shard: T) -> R:
    return run(_STATE[0], shard)
