"""Helpdesk adapters: each reads one vendor's export as its API gives it and yields our tickets."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import get_args

from eval.config import Format
from eval.ingest.adapters.base import Adapter
from eval.ingest.adapters.freshdesk import Freshdesk
from eval.ingest.adapters.intercom import Intercom
from eval.ingest.adapters.messages_csv import MessagesCsv
from eval.ingest.adapters.zendesk import Zendesk
from eval.ingest.mapping import Mapping
from eval.ingest.quarantine import IngestError
from eval.ingest.sources import SourceRow

FORMATS: tuple[Format, ...] = get_args(Format)
ADAPTERS: dict[str, type[Adapter]] = {cls.name: cls for cls in (Zendesk, Intercom, Freshdesk, MessagesCsv)}


def export_rows(paths: Sequence[str], fmt: Format, mapping: Mapping | None) -> Iterator[SourceRow]:
    """Every ticket of a helpdesk export, converted (kind ``export``) or quarantined."""
    if fmt not in ADAPTERS:
        raise IngestError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    if mapping is not None and (mapping.turns is not None or any(vars(mapping.fields).values())):
        raise IngestError(f"mapping: 'fields' and 'turns' apply to format tickets; the {fmt} adapter knows its "
                          "vendor's fields (give 'category' only)")
    yield from ADAPTERS[fmt](mapping).rows(paths)


__all__ = ["ADAPTERS", "FORMATS", "Format", "export_rows"]
