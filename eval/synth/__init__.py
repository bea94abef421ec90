"""Realistic synthetic support data with a planted truth (issue 3).

``synth_to_dir`` writes ``tickets.jsonl``, ``ai_answers.jsonl``, ``key.jsonl``,
``ratings.jsonl``, ``judge.jsonl`` and ``truth.json``, then the live period after the decision
(``live_reviews.jsonl``, ``assist_logs.jsonl``, ``live_truth.json``: ``live.py``); what was
planted lives in ``truth.py`` (the judge's planted quality per category in ``judge.py``).
"""

from eval.synth.generate import FILES, SynthSummary, synth_to_dir
from eval.synth.live import LIVE_FILES, write_live_period

__all__ = ["FILES", "LIVE_FILES", "SynthSummary", "synth_to_dir", "write_live_period"]
