"""Realistic synthetic support data with a planted truth (issue 3).

``synth_to_dir`` writes ``tickets.jsonl``, ``ai_answers.jsonl``, ``key.jsonl``,
``ratings.jsonl``, ``judge.jsonl`` and ``truth.json``; what was planted lives in ``truth.py``
(the judge's planted quality per category in ``judge.py``).
"""

from eval.synth.generate import FILES, SynthSummary, synth_to_dir

__all__ = ["FILES", "SynthSummary", "synth_to_dir"]
