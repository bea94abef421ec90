"""Models as judges: the ``llm_judge`` rubric criterion, the pairwise judge, and their calibration.

``verdict`` parses what a judge says (strictly: a malformed verdict is an error, not a score),
``runner`` calls the judge's endpoint, ``rubric`` and ``pairwise`` hold the two judging tasks and
``calibration`` measures a judge against the reviewers before ``decide`` may lean on it;
``precomputed`` imports another system's verdicts and ``table`` reads either judge's verdicts for ``decide``.
"""

from eval.judges.table import judge_table

__all__ = ["judge_table"]
