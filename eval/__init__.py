"""support-eval: where may an AI answer customers, category by category, with evidence.

The stage functions are re-exported lazily (PEP 562): ``import eval`` stays cheap, and
``eval.replay_to_file`` imports the replay stage only when first used.
"""

from importlib import import_module
from typing import Any

from eval.config import ConfigError, RunConfig, load_config
from eval.records import (
    AIAnswer, BlindKey, CategoryDecision, CriterionResult, Decisions, HumanAnswer, Item,
    PrecomputedAnswer, Quarantined, Rating, Reason, Score, Ticket, Turn, UnblindedRating,
)

_LAZY = {
    "ingest_to_dir": "eval.ingest", "load_mapping": "eval.ingest",
    "replay_to_file": "eval.replay.stage", "build_responder": "eval.responders",
    "retry_errors_to_file": "eval.replay.retry", "replay_and_score_to_file": "eval.run.compose",
    "load_rubrics": "eval.rubrics", "score_to_file": "eval.rubrics",
    "write_packets": "eval.ratings.packets", "import_ratings": "eval.ratings",
    "agreement_to_file": "eval.ratings", "load_policy": "eval.policy", "decide_to_file": "eval.decide",
    "write_report": "eval.report", "compare_dirs": "eval.report",
    "synth_to_dir": "eval.synth", "run_all": "eval.run.pipeline",
    "judge_table": "eval.judges", "ppi_mean": "eval.stats.ppi", "stratified_rate_upper": "eval.stats.ppi",
}

__all__ = [
    "AIAnswer", "BlindKey", "CategoryDecision", "ConfigError", "CriterionResult", "Decisions",
    "HumanAnswer", "Item", "PrecomputedAnswer", "Quarantined", "Rating", "Reason", "RunConfig",
    "Score", "Ticket", "Turn", "UnblindedRating", "load_config", *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'eval' has no attribute {name!r}")
