"""Ratings entered in the app, written in the DESIGN.md Rating format for ``ratings import``; reviews of
single-answer packets beside them, blind, for ``ratings import --reviews`` (which unblinds them by the review key)."""

from __future__ import annotations

from pathlib import Path

from eval.errors import MissingInput
from eval.ratings.app import db
from eval.run.folder import RunFolder
from eval.store import write_jsonl


def export_reviews(run_dir: Path) -> tuple[Path, int] | None:
    """Write every review in the app's store to RUN/app_reviews.jsonl; None (nothing written) without single packets."""
    with db.connect(db.db_path(run_dir)) as conn:
        if not db.has_single(conn):
            return None
        reviews = db.all_reviews(conn)
    out_path = RunFolder(Path(run_dir)).app_reviews
    return out_path, write_jsonl(out_path, reviews)


def export_ratings(run_dir: Path, out_path: Path | None = None) -> tuple[Path, int]:
    """Write every rating in the app's store to ``out_path`` (default RUN/app_ratings.jsonl)."""
    store = db.db_path(run_dir)
    if not store.exists():
        raise MissingInput(f"{store}: no rating app store; run `support-eval serve {run_dir}` first")
    out_path = Path(out_path) if out_path else RunFolder(Path(run_dir)).app_ratings
    with db.connect(store) as conn:
        ratings = db.all_ratings(conn)
    return out_path, write_jsonl(out_path, ratings)
