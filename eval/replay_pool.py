"""Replay with the precomputed responder on every core, with the same bytes as one process.

The precomputed responder does no waiting, only parsing and serialising, so threads would not
help; each pool process builds its own index of the answers file (an SQLite connection cannot
be shared between processes) and replays whole groups of raw ticket lines. The main process
only cuts the groups, exactly where ``replay._ticket_groups`` cuts them, and writes the results
in input order, so resumes and output do not depend on the number of workers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from itertools import chain, islice
from pathlib import Path

from eval.engines.local import ordered_map
from eval.records import Ticket
from eval.replay import ReplayedGroup, Scorer, Which, agent_turn_indices, replay_group
from eval.responders import Responder
from eval.responders.precomputed import Precomputed
from eval.store import parse_line, read_lines


@dataclass(frozen=True)
class RawGroup:
    """Lines of whole tickets for one responder call, their request count and the position after them."""

    path: str
    lines: tuple[tuple[int, bytes], ...]
    size: int
    position: dict[str, int]
    which: Which


_AGENT_TURN = b'"role":"agent"'


def _requests(path: Path, lineno: int, line: bytes, held_out: frozenset[str], which: Which) -> int:
    """Requests a ticket line makes; plain ``json`` reads the ids and roles, and a line it cannot
    read that way goes through ``Ticket``, which raises naming the file, line and field.

    Without held-out tickets the agent turns are counted in the bytes ingest wrote: this count
    only decides where groups are cut (never what is written), and parsing every ticket here
    kept the main process as busy as a worker."""
    agents = line.count(_AGENT_TURN) if not held_out else 0
    if agents:
        return min(agents, 1) if which == "first" else agents
    try:
        ticket = json.loads(line)
        ticket_id, agents = ticket["ticket_id"], sum(turn["role"] == "agent" for turn in ticket["turns"])
    except (ValueError, KeyError, TypeError):
        model = parse_line(path, lineno, line, Ticket)
        ticket_id, agents = model.ticket_id, len(agent_turn_indices(model, "all"))
    if ticket_id in held_out:
        return 0
    return min(agents, 1) if which == "first" else agents


def raw_groups(path: Path, position: dict[str, int], held_out: frozenset[str], which: Which,
               batch_size: int) -> Iterator[RawGroup]:
    lines: list[tuple[int, bytes]] = []
    size = 0
    for lineno, offset, line in read_lines(path, position["offset"], position["line"]):
        lines.append((lineno, line))
        size += _requests(path, lineno, line, held_out, which)
        if size >= batch_size:
            yield RawGroup(str(path), tuple(lines), size, {"offset": offset, "line": lineno}, which)
            lines, size = [], 0
    if lines:
        yield RawGroup(str(path), tuple(lines), size, {"offset": offset, "line": lineno}, which)


def _replay_raw(group: RawGroup, responder: Responder, scorer: Scorer | None = None) -> ReplayedGroup:
    tickets = [parse_line(group.path, lineno, line, Ticket) for lineno, line in group.lines]
    return replay_group(tickets, group.position, responder, group.which, group.size, scorer=scorer)


_WORKER: list[tuple[Precomputed, Scorer | None]] = []
"""The responder (and scorer) of a pool process, built once by ``_start`` (it lives as long as the process)."""


def _scorer(rubrics_path: str | None) -> Scorer | None:
    if rubrics_path is None:
        return None
    from eval.rubrics.score import score_answered
    from eval.rubrics.spec import load_rubrics

    return partial(score_answered, load_rubrics(Path(rubrics_path)))


def _start(answers_path: str, tickets_path: str, rubrics_path: str | None) -> None:
    _WORKER[:] = [(Precomputed.from_files(Path(answers_path), Path(tickets_path)), _scorer(rubrics_path))]


def _in_worker(group: RawGroup) -> ReplayedGroup:
    return _replay_raw(group, *_WORKER[0])


def replayed_groups(tickets_path: Path, position: dict[str, int], responder: Precomputed, which: Which,
                    batch_size: int, workers: int, rubrics_path: Path | None = None) -> Iterator[ReplayedGroup]:
    """``ReplayedGroup`` results in ticket order, scored with the rubrics at ``rubrics_path`` when
    given (one pass, ``eval.one_pass``); fewer than two groups stay in this process."""
    groups = raw_groups(tickets_path, position, responder.held_out, which, batch_size)
    head = list(islice(groups, 2))
    rubrics = None if rubrics_path is None else str(rubrics_path)
    if workers <= 1 or len(head) < 2:
        scorer = _scorer(rubrics)
        for group in chain(head, groups):
            yield _replay_raw(group, responder, scorer)
        return
    yield from ordered_map(_in_worker, chain(head, groups), workers, _start,
                           (str(responder.answers_path), str(tickets_path), rubrics))
