"""The Ray Data backend: replay and scoring as ``map_batches`` over the same batch functions.

The driver cuts the input file into byte ranges (whole tickets for replay, ``batch_rows()``
lines for scoring) exactly where the local engine cuts it; Ray actors read their range, run
``replay_group`` / ``score_batch`` and send back the finished lines; the driver writes them in
input order through the same ``Checkpoint``, so the run folder is byte-identical to the local
engine's and a killed run resumes the same way.

On a cluster, every node reads the run folder and the config's input files by the same paths
(shared storage). Ray is an optional dependency (``support-eval[ray]``), imported only here.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from eval.config import ReplayConfig
from eval.store import parse_line, read_lines

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


def _range_lines(path: Path, r: dict[str, int]) -> Iterator[tuple[int, bytes]]:
    for lineno, end, line in read_lines(path, r["start"], r["start_line"]):
        if end > r["end"]:
            return
        yield lineno, line


def line_ranges(path: Path, position: dict[str, int], size: int) -> Iterator[dict[str, int]]:
    """Byte ranges of ``size`` non-blank lines each, from ``position`` (as ``line_batches`` cuts)."""
    start, start_line, count = position["offset"], position["line"], 0
    for lineno, end, _ in read_lines(path, position["offset"], position["line"]):
        count += 1
        if count == size:
            yield {"start": start, "start_line": start_line, "end": end, "end_line": lineno, "size": count}
            start, start_line, count = end, lineno, 0
    if count:
        yield {"start": start, "start_line": start_line, "end": end, "end_line": lineno, "size": count}


def ticket_ranges(path: Path, position: dict[str, int], held_out: frozenset[str], which: str,
                  batch_size: int) -> Iterator[dict[str, int]]:
    """Byte ranges of whole tickets holding at least ``batch_size`` requests (as the local
    ``_ticket_groups`` cuts); plain ``json`` since only ids and roles are needed here."""
    start, start_line, size = position["offset"], position["line"], 0
    end = lineno = None
    for lineno, end, line in read_lines(path, position["offset"], position["line"]):
        ticket = json.loads(line)
        if ticket["ticket_id"] not in held_out:
            agents = sum(turn["role"] == "agent" for turn in ticket["turns"])
            size += min(agents, 1) if which == "first" else agents
        if size >= batch_size:
            yield {"start": start, "start_line": start_line, "end": end, "end_line": lineno, "size": size}
            start, start_line, size = end, lineno, 0
    if end is not None and end > start:
        yield {"start": start, "start_line": start_line, "end": end, "end_line": lineno, "size": size}


class _ReplayActor:
    """Builds the responder once per actor, then replays one range of tickets per row."""

    def __init__(self, cfg: dict[str, Any], tickets_path: str, resolve: Callable[[str], Path]):
        from eval.responders import build_responder

        self.cfg = ReplayConfig.model_validate(cfg)
        self.path = Path(tickets_path)
        self.responder = build_responder(self.cfg.responder, self.path, resolve)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[bytes]]:
        from eval.records import Ticket
        from eval.replay import replay_group

        out = []
        for r in _rows(batch):
            group = [parse_line(self.path, n, line, Ticket) for n, line in _range_lines(self.path, r)]
            position = {"offset": r["end"], "line": r["end_line"]}
            out.append(pickle.dumps(replay_group(group, position, self.responder, self.cfg.turns, r["size"])))
        return {"result": out}


class _ScoreActor:
    """Loads the rubrics once per actor, then scores one range of items per row."""

    def __init__(self, rubrics_path: str, items_path: str):
        from eval.rubrics import load_rubrics

        self.book = load_rubrics(Path(rubrics_path))
        self.path = Path(items_path)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[bytes]]:
        from eval.rubrics.score import LineBatch, score_batch

        out = []
        for r in _rows(batch):
            lines = tuple(_range_lines(self.path, r))
            line_batch = LineBatch(str(self.path), lines[0][0], lines, {"offset": r["end"], "line": r["end_line"]})
            out.append(pickle.dumps(score_batch(self.book, line_batch)))
        return {"result": out}


def _rows(batch: dict[str, Any]) -> Iterator[dict[str, int]]:
    keys = list(batch)
    for values in zip(*(batch[k] for k in keys), strict=True):
        yield {k: int(v) for k, v in zip(keys, values, strict=True)}


def _ordered(ranges: list[dict[str, int]], actor: type, args: tuple[Any, ...]) -> Iterator[Any]:
    """``actor`` over ``ranges`` as Ray Data ``map_batches`` (one range per call), results in order."""
    if not ranges:
        return
    import ray
    import ray.data

    connect()
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ctx.enable_progress_bars = False
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    ds = ray.data.from_items(ranges).map_batches(
        actor, fn_constructor_args=args, batch_size=1, num_cpus=1,
        compute=ray.data.ActorPoolStrategy(size=min(cpus, len(ranges))),
    )
    for row in ds.iter_rows():
        yield pickle.loads(row["result"])


def replay_groups(tickets_path: Path, position: dict[str, int], held_out: frozenset[str], cfg: ReplayConfig,
                  resolve: Callable[[str], Path], batch_size: int) -> Iterator[Any]:
    """``ReplayedGroup`` results in ticket order, answered by Ray actors."""
    ranges = list(ticket_ranges(tickets_path, position, held_out, cfg.turns, batch_size))
    yield from _ordered(ranges, _ReplayActor, (cfg.model_dump(mode="json"), str(tickets_path), resolve))


def scored_batches(items_path: Path, position: dict[str, int], rubrics_path: Path, size: int) -> Iterator[Any]:
    """``ScoredBatch`` results in item order, scored by Ray actors."""
    ranges = list(line_ranges(items_path, position, size))
    yield from _ordered(ranges, _ScoreActor, (str(rubrics_path), str(items_path)))
