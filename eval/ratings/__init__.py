"""Blind ratings: import and unblinding, agreement and reviewer reliability."""

from eval.ratings.agreement import agreement_to_file
from eval.ratings.importer import ImportSummary, import_ratings, read_ratings

__all__ = ["ImportSummary", "agreement_to_file", "import_ratings", "read_ratings"]
