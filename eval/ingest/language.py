"""The language a ticket's customer wrote in, so reports can slice results by language.

py3langid 0.4 (BSD-3-Clause, read from the wheel's METADATA): a naive Bayes model over byte n-grams that ships
inside the wheel, so nothing is downloaded and nothing is random; the model is loaded once per process, on first
use (~0.7 s, ~120 MB). Measured on this machine (2 shared cores, CPU time): 150-250 µs per ~300-character text,
the spread being the machine's load. lingua (Apache-2.0), measured the same way: ~550 µs per text and 1.2 GB
resident with all its languages loaded. fastText detectors download their model on first use.

The model knows 140 labels; an answer is given only when its label is an ISO 639-1 code and its probability
reaches ``MIN_CONFIDENCE``, and only for texts of at least ``MIN_LETTERS`` letters once addresses, links and the
``[image]`` / ``[attachment: …]`` markers are taken out (they say nothing about the language).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

__all__ = ["MAX_CHARS", "MIN_CONFIDENCE", "MIN_LETTERS", "detect_language"]

MIN_LETTERS = 20
MIN_CONFIDENCE = 0.8
MAX_CHARS = 1000  # the first thousand characters decide: enough for the detector, and the cost stays bounded

_NOISE = re.compile(r"https?://\S+|www\.\S+|[^\s@]+@\S+|\[image\]|\[attachment: [^\]\n]*\]", re.IGNORECASE)
_ENOUGH_LETTERS = re.compile(rf"(?:[^\W\d_][\W\d_]*){{{MIN_LETTERS}}}")  # stops at the MIN_LETTERS-th letter


@cache
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the language of ``text``; None when it is too short or the detector is not sure."""
    sample = _NOISE.sub(" ", text[:MAX_CHARS])
    if _ENOUGH_LETTERS.search(sample) is None:
        return None
    label, probability = _identifier().classify(sample)
    if len(label) != 2 or probability < MIN_CONFIDENCE:
        return None
    return str(label)
