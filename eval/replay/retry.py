"""``replay --retry-errors``: answer again only the items whose AI answer failed.

Streams: memory grows with the number of failed items (their line numbers), not with the file.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from eval.config import ReplayConfig
from eval.records import Item
from eval.replay.group import Answerer, Timed, answers_of, checked
from eval.replay.request import ReplayRequest
from eval.replay.shards import ticket_shards
from eval.replay.tally import ReplaySummary, Tally
from eval.responders import Responder, build_responder, requests_per_call
from eval.store import atomic_writer, parse_line, read_lines


def retry_errors_to_file(
    items_path: Path, cfg: ReplayConfig, resolve: Callable[[str], Path], tickets_path: Path,
    *, clock: Callable[[], float] = time.perf_counter,
) -> ReplaySummary:
    """Re-answer only the items whose ``ai.error`` is set; every other line is kept byte for byte.

    Streams: memory grows with the number of failed items (their line numbers), not the file."""
    responder = build_responder(cfg.responder, tickets_path, resolve)
    timed = Timed(responder, clock)
    batch_size = requests_per_call(cfg.responder)
    tally = Tally()
    try:
        failed = _failed_lines(items_path, tally)
        _rewrite(items_path, failed, timed, batch_size, tally)
        tally.seconds = timed.seconds
        tally.joined = _joined(tickets_path, responder, cfg, batch_size)
        return tally.summary(responder, cfg.turns).model_copy(update={"retried": len(failed)})
    finally:
        responder.close()


def _joined(tickets_path: Path, responder: Responder, cfg: ReplayConfig, batch_size: int) -> int:
    """Logged answers that belong to an agent turn, counted group by group as replay counts them."""
    return sum(s.answers.joined(s.tickets())
               for s in ticket_shards(tickets_path, {"offset": 0, "line": 0}, responder, cfg.turns, batch_size)
               if s.answers is not None)


def _failed_lines(items_path: Path, tally: Tally) -> list[int]:
    """Line numbers of the items whose ``ai.error`` is set; every line is validated (a bad one
    raises before any answer is asked for) and the others are counted. A ticket's items are
    consecutive (replay writes them so), so tickets are counted where the ticket id changes."""
    failed: list[int] = []
    last_ticket: str | None = None
    for lineno, _, line in read_lines(items_path):
        item = parse_line(items_path, lineno, line, Item)
        if item.ticket_id != last_ticket:
            last_ticket = item.ticket_id
            tally.tickets += 1
            tally.replayed[item.category] += 1
        if item.ai.error:
            failed.append(lineno)
        else:
            tally.count(item.category, item.ai)
    return failed


def _rewrite(items_path: Path, failed: list[int], responder: Answerer, batch_size: int, tally: Tally) -> None:
    """Replace ``items_path`` by its copy with the failed lines answered again; a failure leaves
    the file as it was and no partial copy behind."""
    try:
        with atomic_writer(items_path) as fh:
            _copy_retrying(items_path, fh, failed, responder, batch_size, tally)
    except BaseException:
        items_path.with_name(items_path.name + ".partial").unlink(missing_ok=True)
        raise


def _copy_retrying(
    items_path: Path, fh: Any, failed: list[int], responder: Answerer, batch_size: int, tally: Tally,
) -> None:
    """Copy ``items_path`` line by line into ``fh``, the failed lines answered again a batch at a
    time: one reader fetches the next batch's lines, a second one copies up to the batch's end."""
    ahead, behind = read_lines(items_path), read_lines(items_path)
    for start in range(0, len(failed), batch_size):
        chunk = failed[start:start + batch_size]
        retried = _retried(items_path, _lines_at(ahead, chunk), responder, tally)
        for lineno, _, line in behind:
            fh.write(retried.get(lineno) or line.decode("utf-8"))
            if lineno == chunk[-1]:
                break
    for _, _, line in behind:
        fh.write(line.decode("utf-8"))


def _lines_at(lines: Iterator[tuple[int, int, bytes]], wanted: list[int]) -> list[tuple[int, bytes]]:
    """The lines numbered ``wanted`` (ascending), read on from where ``lines`` stands."""
    found: list[tuple[int, bytes]] = []
    for lineno, _, line in lines:
        if lineno == wanted[len(found)]:
            found.append((lineno, line))
            if len(found) == len(wanted):
                break
    return found


def _retried(
    items_path: Path, lines: list[tuple[int, bytes]], responder: Answerer, tally: Tally,
) -> dict[int, str]:
    """One responder call for a batch of failed item lines: their new lines by line number."""
    items = [parse_line(items_path, lineno, line, Item) for lineno, line in lines]
    requests = [_request_of(item) for item in items]
    answers = answers_of(responder, requests)
    out: dict[int, str] = {}
    for (lineno, _), item, request, answer in zip(lines, items, requests, answers, strict=True):
        ai = checked(answer, responder, request)
        tally.count(item.category, ai)
        out[lineno] = item.model_copy(update={"ai": ai}).to_json() + "\n"
    return out


def _request_of(item: Item) -> ReplayRequest:
    """The item's context, copied by the request when a responder reads it."""
    return ReplayRequest(item.item_id, item.ticket_id, item.turn_index, item.context)
