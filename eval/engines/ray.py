"""The Ray Data engine: a job's shards as ``map_batches`` over actors, results in input order.

Each actor builds the job's state once (``Job.setup``) and runs one shard per call; shards and
results travel pickled. A job whose state cannot travel runs in this process, as locally.

On a cluster, every node reads the run folder and the config's input files by the same paths
(shared storage). Ray is an optional dependency (``support-eval[ray]``), imported only here.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

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
        raise RuntimeError("--engine ray needs Ray: pip install 'support-eval[ray]'") from exc
    if not ray.is_initialized():
        ray.init(address=address or os.environ.get(ADDRESS_ENV), include_dashboard=False,
                 log_to_driver=False, configure_logging=False)


class _Actor:
    """Builds the job's state once per actor, then runs one pickled shard per row."""

    def __init__(self, run: Callable[[Any, Any], Any], setup: Callable[..., Any], args: tuple[Any, ...]):
        self.run = run
        self.state = setup(*args)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[bytes]]:
        return {"result": [pickle.dumps(self.run(self.state, pickle.loads(s))) for s in batch["shard"]]}


class RayEngine:
    name: EngineName = "ray"

    def __init__(self, address: str | None = None) -> None:
        connect(address)

    def map(self, job: Job[S, R], shards: Iterable[S]) -> Iterator[R]:
        if job.setup is None:
            return ordered_threads(lambda shard: job.run(job.here, shard), shards, max(job.threads, 1))
        return self._actors(job, [pickle.dumps(s) for s in shards])

    @staticmethod
    def _actors(job: Job[S, R], shards: list[bytes]) -> Iterator[R]:
        if not shards:
            return
        import ray
        import ray.data

        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True
        ctx.enable_progress_bars = False
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        ds = ray.data.from_items([{"shard": s} for s in shards]).map_batches(
            _Actor, fn_constructor_args=(job.run, job.setup, job.args), batch_size=1, num_cpus=1,
            compute=ray.data.ActorPoolStrategy(size=min(cpus, len(shards))),
        )
        for row in ds.iter_rows():
            yield pickle.loads(row["result"])
