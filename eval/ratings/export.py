"""Ratings entered in the app, written in the DESIGN.md Rating format for ``ratings import``."""

from __future__ import annotations

from pathlib import Path

from eval.errors import MissingInput
from eval.ratings.app import db
from eval.store import write_jsonl

DEFAULT_NAME = "app_ratings.jsonl"


def export_ratings(run_dir: Path, out_path: Path | None = None) -> tuple[Path, int]:
    """Write every rating in the app's store to ``out_path`` (default RUN/app_ratings.jsonl)."""
    store = db.db_path(run_dir)
    if not store.exists():
        raise MissingInput(f"{store}: no rating app store; run `support-eval serve {run_dir}` first")
    out_path = Path(out_path) if out_path else Path(run_dir) / DEFAULT_NAME
    with db.connect(store) as conn:
        ratings = db.all_ratings(conn)
    return out_path, write_jsonl(out_path, ratings)
