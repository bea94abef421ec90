"""What the engines share: the job a stage hands over and the engine protocol."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, Literal, Protocol, TypeVar

S = TypeVar("S")
R = TypeVar("R")

EngineName = Literal["local", "ray"]


@dataclass(frozen=True)
class Job(Generic[S, R]):
    """``run(state, shard)`` over shards. ``setup(*args)`` builds a worker's state where the
    shards are sent away (module-level functions: they are pickled); None means the state
    cannot travel and the job runs in this process on ``here``. ``threads`` > 0: the shards
    mostly wait (a model endpoint), so a local run uses that many threads on ``here`` instead
    of processes."""

    run: Callable[[Any, S], R]
    setup: Callable[..., Any] | None = None
    args: tuple[Any, ...] = ()
    here: Any = None
    threads: int = 0

    def local_state(self) -> Any:
        if self.here is not None or self.setup is None:
            return self.here
        return self.setup(*self.args)


class Engine(Protocol):
    name: EngineName

    def map(self, job: Job[S, R], shards: Iterable[S]) -> Iterator[R]: ...
