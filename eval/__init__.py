"""support-eval: where may an AI answer customers, category by category, with evidence."""

from eval.config import ConfigError, RunConfig, load_config
from eval.records import (
    AIAnswer, BlindKey, CriterionResult, HumanAnswer, Item, PrecomputedAnswer,
    Quarantined, Rating, Score, Ticket, Turn,
)

__all__ = [
    "AIAnswer", "BlindKey", "ConfigError", "CriterionResult", "HumanAnswer", "Item",
    "PrecomputedAnswer", "Quarantined", "Rating", "RunConfig", "Score", "Ticket", "Turn",
    "load_config",
]
