"""Replay with the precomputed responder on every core, with the same bytes as one process.

The precomputed responder does no waiting, only parsing and serialising, so threads would not
help. The main process cuts groups of whole ticket lines, exactly where ``replay._ticket_groups``
cuts them, looks up each group's logged answers in its index of the answers file and sends both
to a pool process, which replays (and in a one-pass run scores) the group; results are written
in input order, so resumes and output do not depend on the number of workers. One index in the
main process, not one per worker: building it costs as much as replaying a tenth of the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import partial
from itertools import chain, islice
from pathlib import Path

from eval.engines.local import ordered_map
from eval.records import Ticket
from eval.replay import ReplayedGroup, Scorer, Which, agent_turn_indices, replay_group
from eval.responders.precomputed import LoggedAnswers, Precomputed
from eval.store import parse_line, read_lines


@dataclass(frozen=True)
class RawGroup:
    """Lines of whole tickets for one responder call with their logged answers, the request
    count and the input position after them."""

    path: str
    lines: tuple[tuple[int, bytes], ...]
    size: int
    position: dict[str, int]
    which: Which
    answers: LoggedAnswers


_ID_KEY = b'{"ticket_id":"'
_AGENT_TURN = b'"role":"agent"'


def _facts(path: Path, lineno: int, line: bytes, which: Which) -> tuple[str, int]:
    """(ticket id, requests) of a ticket line. A line as ingest writes it is read from its bytes
    (the id comes first, turns are written ``"role":"agent"``): parsing every ticket here kept
    the main process as busy as a worker. Any other line is parsed, through ``Ticket`` when plain
    ``json`` cannot read it, which raises naming the file, line and field."""
    end = line.find(b'"', len(_ID_KEY)) if line.startswith(_ID_KEY) else -1
    agents = line.count(_AGENT_TURN)
    if end != -1 and agents and b"\\" not in line[len(_ID_KEY):end]:
        ticket_id = line[len(_ID_KEY):end].decode("utf-8")
    else:
        try:
            ticket = json.loads(line)
            ticket_id, agents = ticket["ticket_id"], sum(turn["role"] == "agent" for turn in ticket["turns"])
        except (ValueError, KeyError, TypeError):
            model = parse_line(path, lineno, line, Ticket)
            ticket_id, agents = model.ticket_id, len(agent_turn_indices(model, "all"))
    return ticket_id, min(agents, 1) if which == "first" else agents


def raw_groups(path: Path, position: dict[str, int], responder: Precomputed, which: Which,
               batch_size: int) -> Iterator[RawGroup]:
    lines: list[tuple[int, bytes]] = []
    ids: list[str] = []
    size = 0
    for lineno, offset, line in read_lines(path, position["offset"], position["line"]):
        ticket_id, requests = _facts(path, lineno, line, which)
        lines.append((lineno, line))
        ids.append(ticket_id)
        size += 0 if ticket_id in responder.held_out else requests
        if size >= batch_size:
            yield RawGroup(str(path), tuple(lines), size, {"offset": offset, "line": lineno}, which,
                           responder.logged(sorted(set(ids))))
            lines, ids, size = [], [], 0
    if lines:
        yield RawGroup(str(path), tuple(lines), size, {"offset": offset, "line": lineno}, which,
                       responder.logged(sorted(set(ids))))


def _replay_raw(group: RawGroup, scorer: Scorer | None = None) -> ReplayedGroup:
    tickets = [parse_line(group.path, lineno, line, Ticket) for lineno, line in group.lines]
    done = replay_group(tickets, group.position, group.answers, group.which, group.size, scorer=scorer)
    return replace(done, logged=_joined(tickets, group.answers))


def _joined(tickets: list[Ticket], answers: LoggedAnswers) -> int:
    """How many of the group's logged answers belong to an agent turn: the rest of the answers
    file are orphans, counted here instead of in a second pass over the tickets."""
    agent = {(t.ticket_id, i) for t in tickets for i, turn in enumerate(t.turns) if turn.role == "agent"}
    return sum((t, i) in agent for t, i, _, _ in answers.lines)


_SCORER: list[Scorer | None] = [None]
"""The scorer of a pool process, built once by ``_start`` (it lives as long as the process)."""


def _scorer(rubrics_path: str | None) -> Scorer | None:
    if rubrics_path is None:
        return None
    from eval.rubrics.score import score_answered
    from eval.rubrics.spec import load_rubrics

    return partial(score_answered, load_rubrics(Path(rubrics_path)))


def _start(rubrics_path: str | None) -> None:
    _SCORER[0] = _scorer(rubrics_path)


def _in_worker(group: RawGroup) -> ReplayedGroup:
    """The group's lines travel back as UTF-8 bytes, the form they are written in: a str would be
    encoded by pickle here, decoded in the main process and encoded again for the file."""
    done = _replay_raw(group, _SCORER[0])
    scored = done.scored if done.scored is None else replace(done.scored, text=done.scored.text.encode("utf-8"))
    return replace(done, text=done.text.encode("utf-8"), scored=scored)


def replayed_groups(tickets_path: Path, position: dict[str, int], responder: Precomputed, which: Which,
                    batch_size: int, workers: int, rubrics_path: Path | None = None) -> Iterator[ReplayedGroup]:
    """``ReplayedGroup`` results in ticket order, scored with the rubrics at ``rubrics_path`` when
    given (one pass, ``eval.one_pass``); fewer than two groups stay in this process."""
    groups = raw_groups(tickets_path, position, responder, which, batch_size)
    head = list(islice(groups, 2))
    rubrics = None if rubrics_path is None else str(rubrics_path)
    if workers <= 1 or len(head) < 2:
        scorer = _scorer(rubrics)
        for group in chain(head, groups):
            yield _replay_raw(group, scorer)
        return
    yield from ordered_map(_in_worker, chain(head, groups), workers, _start, (rubrics,))
