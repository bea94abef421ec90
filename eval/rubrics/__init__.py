"""Rubric scoring: YAML rubrics per category, criteria as pure functions, Zendesk QA-style scores."""

from eval.rubrics.criteria import Answer, ItemView, evaluate
from eval.rubrics.score import AnswerScore, CategoryScores, ScoreSummary, score_answer, score_item
from eval.rubrics.spec import (
    DEFAULT_CATEGORY, ESCALATION_PATTERNS, KINDS, Criterion, Rubric, RubricBook, RubricError,
    load_rubrics, parse_rubric,
)
from eval.rubrics.stage import score_to_file

__all__ = [
    "DEFAULT_CATEGORY", "ESCALATION_PATTERNS", "KINDS", "Answer", "AnswerScore", "CategoryScores",
    "Criterion", "ItemView", "Rubric", "RubricBook", "RubricError", "ScoreSummary", "evaluate",
    "load_rubrics", "parse_rubric", "score_answer", "score_item", "score_to_file",
]
