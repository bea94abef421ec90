"""The run folder: every artifact's file name, written here once.

One run is one folder (``reports/<run-name>/`` by default). Stages ask a ``RunFolder`` for the
path of what they read and write instead of spelling the names themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Artifact = Literal[
    "manifest", "tickets", "quarantine", "items", "scores", "judge", "judge_rejected", "judge_pairwise",
    "judge_calibration", "packets", "key", "review_key", "audit_key", "audit_packets", "blinding_audit", "app_ratings",
    "app_reviews", "ratings", "ratings_rejected", "reviews", "reviews_rejected", "agreement", "decisions", "router",
    "router_model", "router_training",
    "report_html", "report_md", "figures", "monitor", "live_reviews", "live_rejected", "assist_logs", "assist_rejected",
]

NAMES: dict[Artifact, str] = {
    "manifest": "manifest.json",
    "tickets": "tickets.jsonl",
    "quarantine": "quarantine.jsonl",
    "items": "items.jsonl",
    "scores": "scores.jsonl",
    "judge": "judge.jsonl",
    "judge_rejected": "judge.rejected.jsonl",
    "judge_pairwise": "judge_pairwise.jsonl",
    "judge_calibration": "judge_calibration.json",
    "packets": "packets",
    "key": "key.jsonl",
    "review_key": "review_key.jsonl",
    "audit_key": "audit_key.jsonl",
    "audit_packets": "packets/audit",
    "blinding_audit": "blinding_audit.json",
    "app_ratings": "app_ratings.jsonl",
    "app_reviews": "app_reviews.jsonl",
    "ratings": "ratings.jsonl",
    "ratings_rejected": "ratings.rejected.jsonl",
    "reviews": "reviews.jsonl",
    "reviews_rejected": "reviews.rejected.jsonl",
    "agreement": "agreement.json",
    "decisions": "decisions.json",
    "router": "router",
    "router_model": "router/router.pkl",
    "router_training": "router/training.json",
    "report_html": "report.html",
    "report_md": "report.md",
    "figures": "figures",
    "monitor": "monitor.json",
    "live_reviews": "live_reviews.jsonl",
    "live_rejected": "live_reviews.rejected.jsonl",
    "assist_logs": "assist_logs.jsonl",
    "assist_rejected": "assist_logs.rejected.jsonl",
}
"""Artifact → its name in the run folder (a folder for packets, router and figures)."""

LISTED: tuple[Artifact, ...] = ("manifest", "tickets", "quarantine", "items", "scores", "ratings",
                                "reviews", "agreement", "decisions", "report_md", "report_html")
"""The files ``support-eval run`` lists when it finishes, in that order."""


@dataclass(frozen=True)
class RunFolder:
    root: Path

    def path(self, artifact: Artifact) -> Path:
        return self.root / NAMES[artifact]

    @property
    def manifest(self) -> Path:
        return self.path("manifest")

    @property
    def tickets(self) -> Path:
        return self.path("tickets")

    @property
    def quarantine(self) -> Path:
        return self.path("quarantine")

    @property
    def items(self) -> Path:
        return self.path("items")

    @property
    def scores(self) -> Path:
        return self.path("scores")

    @property
    def ratings(self) -> Path:
        return self.path("ratings")

    @property
    def key(self) -> Path:
        return self.path("key")

    @property
    def review_key(self) -> Path:
        """The key of single-answer packets: review_id → item and answer (never shown to reviewers)."""
        return self.path("review_key")

    @property
    def audit_key(self) -> Path:
        """The key of audit packets: review_id → the live AI answer shown (ticket, turn, category)."""
        return self.path("audit_key")

    @property
    def judge(self) -> Path:
        """Verdicts on every item from another system (``judge: {kind: precomputed}``)."""
        return self.path("judge")

    @property
    def judge_rejected(self) -> Path:
        return self.path("judge_rejected")

    @property
    def judge_pairwise(self) -> Path:
        return self.path("judge_pairwise")

    @property
    def judge_calibration(self) -> Path:
        return self.path("judge_calibration")

    @property
    def packets(self) -> Path:
        return self.path("packets")

    @property
    def tokens(self) -> Path:
        """The reviewers' app links, kept inside packets/ (private)."""
        return self.packets / "tokens.json"

    @property
    def blinding_audit(self) -> Path:
        return self.path("blinding_audit")

    @property
    def app_ratings(self) -> Path:
        return self.path("app_ratings")

    @property
    def app_reviews(self) -> Path:
        return self.path("app_reviews")

    @property
    def ratings_rejected(self) -> Path:
        return self.path("ratings_rejected")

    @property
    def reviews(self) -> Path:
        return self.path("reviews")

    @property
    def reviews_rejected(self) -> Path:
        return self.path("reviews_rejected")

    @property
    def agreement(self) -> Path:
        return self.path("agreement")

    @property
    def decisions(self) -> Path:
        return self.path("decisions")

    @property
    def report_html(self) -> Path:
        return self.path("report_html")

    @property
    def report_md(self) -> Path:
        return self.path("report_md")

    @property
    def figures(self) -> Path:
        return self.path("figures")
