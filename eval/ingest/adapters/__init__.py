"""Helpdesk adapters: each reads one vendor's export as its API gives it and yields our tickets."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import get_args

from eval.config import Format
from eval.engines.local import ordered_map
from eval.ingest.adapters.base import Adapter, Conversation, Pending, assemble_all
from eval.ingest.adapters.freshdesk import Freshdesk
from eval.ingest.adapters.intercom import Intercom
from eval.ingest.adapters.messages_csv import MessagesCsv
from eval.ingest.adapters.zendesk import Zendesk
from eval.ingest.mapping import Mapping
from eval.ingest.quarantine import IngestError, Problem
from eval.ingest.sources import SourceRow

FORMATS: tuple[Format, ...] = get_args(Format)
ADAPTERS: dict[str, type[Adapter]] = {cls.name: cls for cls in (Zendesk, Intercom, Freshdesk, MessagesCsv)}


ASSEMBLE_BATCH = 256
"""Tickets per batch sent to a worker: enough that pickling and queues cost little, few enough that the
batches in flight stay small."""


def export_rows(paths: Sequence[str], fmt: Format, mapping: Mapping | None, workers: int = 1) -> Iterator[SourceRow]:
    """Every ticket of a helpdesk export in input order, converted (kind ``export``) or quarantined.

    Reading and lookups (users, fields) stay in this process; cleaning and language detection, three
    quarters of the cost, run on ``workers`` processes. The vendor records wait here, not in the workers."""
    if fmt not in ADAPTERS:
        raise IngestError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    if mapping is not None and (mapping.turns is not None or any(vars(mapping.fields).values())):
        raise IngestError(f"mapping: 'fields' and 'turns' apply to format tickets; the {fmt} adapter knows its "
                          "vendor's fields (give 'category' only)")
    held: deque[list[Pending]] = deque()

    def sent() -> Iterator[list[Conversation | Problem]]:
        pending = ADAPTERS[fmt](mapping).conversations(paths)
        while batch := list(islice(pending, ASSEMBLE_BATCH)):
            held.append(batch)
            yield [p.conv for p in batch]

    for assembled in ordered_map(assemble_all, sent(), workers):
        yield from (p.row(a) for p, a in zip(held.popleft(), assembled, strict=True))


__all__ = ["ADAPTERS", "FORMATS", "Format", "export_rows"]
