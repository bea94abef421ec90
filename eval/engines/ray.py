"""The Ray engine: a job's shards mapped over Ray actors, results in input order.

Each actor builds the job's state once (``Job.setup``) and runs one shard per call; shards and
results travel through Ray's object store. A job whose state cannot travel runs in this
process, as locally.

On a cluster, every node reads the run folder and the config's input files by the same paths
(shared storage). Ray is an optional dependency (``support-eval[ray]``), imported only here.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from eval.errors import UsageError
from eval.engines.base import EngineName, Job
from eval.engines.local import ordered_threads

S = TypeVar("S")
R = TypeVar("R")

ADDRESS_ENV = "RAY_ADDRESS"


def connect(address: str | None = None) -> None:
    """Join the cluster at ``address`` (else ``RAY_ADDRESS``), or start a local Ray instance."""
    try:
        import ray
    except ImportError as exc:
        raise UsageError("--engine ray needs Ray: pip install 'support-eval[ray]'") from exc
    if not ray.is_initialized():
        ray.init(address=address or os.environ.get(ADDRESS_ENV), include_dashboard=False,
                 log_to_driver=False, configure_logging=False)


class _Actor:
    """Builds the job's state once per actor, then runs one shard per call."""

    def __init__(self, run: Callable[[Any, Any], Any], setup: Callable[..., Any], args: tuple[Any, ...]):
        self.run = run
        self.state = setup(*args)

    def __call__(self, shard: Any) -> Any:
        return self.run(self.state, shard)


class RayEngine:
    """Shards go to one actor per cluster CPU in turn, at most two per actor in flight, and come
    back in input order: the driver holds a few shards at a time, not the whole input."""

    name: EngineName = "ray"

    def __init__(self, address: str | None = None) -> None:
        connect(address)

    def map(self, job: Job[S, R], shards: Iterable[S]) -> Iterator[R]:
        if job.setup is None:
            return ordered_threads(lambda shard: job.run(job.here, shard), shards, max(job.threads, 1))
        return self._actors(job, shards)

    @staticmethod
    def _actors(job: Job[S, R], shards: Iterable[S]) -> Iterator[R]:
        import ray

        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        remote = ray.remote(num_cpus=1)(_Actor)
        actors: list[Any] = []
        inflight: deque[Any] = deque()
        try:
            for n, shard in enumerate(shards):
                if len(actors) < cpus:  # started as the shards come: a small input needs few
                    actors.append(remote.remote(job.run, job.setup, job.args))
                if len(inflight) >= 2 * len(actors):
                    yield ray.get(inflight.popleft())
                inflight.append(actors[n % len(actors)].__call__.remote(shard))
            while inflight:
                yield ray.get(inflight.popleft())
        finally:
            for actor in actors:
                ray.kill(actor)
