"""Ingest: load tickets from JSONL, CSV, Parquet or the hub, map foreign shapes, validate, quarantine."""

from eval.ingest.mapping import Mapping, load_mapping
from eval.ingest.quarantine import REASONS, IngestError, Reason
from eval.ingest.stage import IngestSummary, ingest, ingest_to_dir

__all__ = [
    "REASONS",
    "IngestError",
    "IngestSummary",
    "Mapping",
    "Reason",
    "ingest",
    "ingest_to_dir",
    "load_mapping",
]
