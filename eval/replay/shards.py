"""The one place tickets are cut into groups: whole tickets holding at least ``batch_size``
requests (one responder call each), with the input position after them. Groups start where the
last one ended, so a resumed replay sends the same calls as an uninterrupted one, and every
engine gets the same groups.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from eval.records import Ticket
from eval.replay.request import Which, agent_turn_indices
from eval.responders import Responder
from eval.store import parse_line, read_lines


@dataclass(frozen=True)
class TicketShard:
    """Raw lines of whole tickets (parsed where they are replayed), their request count, the
    input position after them and, for a responder that travels with its groups, its part."""

    path: str
    lines: tuple[tuple[int, bytes], ...]
    size: int
    position: dict[str, int]
    answers: Responder | None = None

    def tickets(self) -> list[Ticket]:
        return [parse_line(self.path, lineno, line, Ticket) for lineno, line in self.lines]


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


def ticket_shards(path: Path, position: dict[str, int], responder: Responder, which: Which,
                  batch_size: int) -> Iterator[TicketShard]:
    """Groups from ``position``; each carries ``responder.for_tickets`` of its tickets."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    lines: list[tuple[int, bytes]] = []
    ids: list[str] = []
    size = 0
    for lineno, offset, line in read_lines(path, position["offset"], position["line"]):
        ticket_id, requests = _facts(path, lineno, line, which)
        lines.append((lineno, line))
        ids.append(ticket_id)
        size += 0 if ticket_id in responder.held_out else requests
        if size >= batch_size:
            yield _shard(path, lines, ids, size, {"offset": offset, "line": lineno}, responder)
            lines, ids, size = [], [], 0
    if lines:
        yield _shard(path, lines, ids, size, {"offset": offset, "line": lineno}, responder)


def _shard(path: Path, lines: list[tuple[int, bytes]], ids: list[str], size: int, position: dict[str, int],
           responder: Responder) -> TicketShard:
    return TicketShard(str(path), tuple(lines), size, position, responder.for_tickets(sorted(set(ids))))
