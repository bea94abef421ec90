"""What the router may see of an agent turn: only what is known when the AI has drafted its answer.

The conversation up to the turn (the customer's messages), the ticket facts an agent saw (no
outcome such as CSAT, no personal field: ``eval.ratings.facts.known_metadata``), the channel, the
language and, for the answer-aware router, the AI answer itself. Never the human answer, its
rubric score or a pairwise verdict: none exists when a new ticket is routed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import OneHotEncoder

from eval.ratings.facts import known_metadata
from eval.records import Turn

Variant = Literal["answer", "context"]
"""answer: routes a drafted AI answer (sees it); context: routes a turn before any AI answer exists."""
VARIANTS: tuple[Variant, ...] = ("answer", "context")
COLUMNS = ("customer", "facts", "ai", "category", "channel", "language")
TEXT_CHARS = 2000
"""The latest characters of the customer's messages (and the first of the answer) the router reads."""
_CATEGORICAL = re.compile(r"^[A-Za-z_\- ]{1,32}$")
"""A fact value that names a kind (plan, product, status) rather than an amount or an id."""


def turn_features(category: str, context: Sequence[Turn], metadata: Mapping[str, Any], channel: str | None,
                  ai_text: str | None) -> dict[str, str]:
    """One agent turn as the router's inputs (all text: the pipeline vectorises them)."""
    customer = " ".join(t.text for t in context if t.role == "customer")[-TEXT_CHARS:]
    facts = []
    for key, value in known_metadata(metadata):
        token = re.sub(r"\s+", "_", str(key))
        facts.append(token)
        if isinstance(value, str) and _CATEGORICAL.match(value):
            facts.append(f"{token}={re.sub(r'[ ]+', '_', value.lower())}")
    return {"customer": customer, "facts": " ".join(facts), "ai": (ai_text or "")[:TEXT_CHARS],
            "category": category, "channel": channel or "", "language": str(metadata.get("language") or "")}


def with_sentinel(text: str) -> str:
    """Lower-cased text after a word every turn has, so a run whose turns have no words (an empty answer, no
    customer message, no facts) still has a vocabulary: its risk then rests on what the others say."""
    return "textstart " + text.lower()


def facts_with_sentinel(tokens: str) -> str:
    """The fact tokens as they are, after one every turn has (see :func:`with_sentinel`)."""
    return "factsstart " + tokens


def vectoriser() -> ColumnTransformer:
    """Words and word pairs of the customer's messages and of the AI answer (last, so the conversation-only
    variant reads the columns before it), fact tokens and the ticket's kind, as sparse columns. Fitted once
    on the rated turns' text (never their ratings), so cross-fitting refits only the classifier:
    tokenising was nine tenths of the learning time."""
    text = dict(ngram_range=(1, 2), min_df=2, max_features=20_000, sublinear_tf=True, preprocessor=with_sentinel)
    return ColumnTransformer([
        ("customer", TfidfVectorizer(**text), "customer"),
        ("facts", TfidfVectorizer(token_pattern=r"[^ ]+", preprocessor=facts_with_sentinel), "facts"),
        ("kind", OneHotEncoder(handle_unknown="ignore"), ["category", "channel", "language"]),
        ("ai", TfidfVectorizer(**text), "ai"),
    ])


def context_columns(vec: ColumnTransformer) -> int:
    """How many of a fitted vectoriser's columns come before the AI answer's."""
    return int(vec.output_indices_["ai"].start)


def classifier() -> LogisticRegression:
    """A logistic regression (liblinear: the fastest exact solver on a few thousand sparse rows; stochastic
    gradient descent was faster still but ranked the planted harmful minority too poorly). Its risk only has
    to rank turns: the thresholds are certified on ratings it did not see."""
    return LogisticRegression(C=1.0, solver="liblinear", random_state=0)  # seeded: the same router, byte for byte
