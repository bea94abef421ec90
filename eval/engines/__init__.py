"""Transports: map a function over shards, results in input order, on this machine (threads or
processes) or on Ray. They know nothing of stages: a stage hands over a ``Job``.

The run chooses the engine once (``engine_for``); every stage that maps shards uses it, so a
run folder is the same bytes whichever engine wrote it.
"""

from __future__ import annotations

from eval.engines.base import Engine, EngineName, Job

__all__ = ["Engine", "EngineName", "Job", "engine_for"]


def engine_for(name: EngineName, workers: int | None = None, address: str | None = None) -> Engine:
    """The engine of a run: ``local`` on ``workers`` processes (default: every core this
    process may use), or ``ray`` joined at ``address`` (else ``RAY_ADDRESS``, else a local
    Ray instance)."""
    if name == "ray":
        from eval.engines.ray import RayEngine

        return RayEngine(address)
    from eval.engines.local import LocalEngine

    return LocalEngine(workers)
