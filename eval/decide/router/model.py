"""The router's risk model: cross-fitted by ticket, and each new ticket scored by one fold's model.

A ticket's fold is a hash of its id, fixed for good. Training gives every rated turn the risk of the
model fitted without its fold (out-of-fold), on which the thresholds are certified; routing scores a
new ticket with the model of its own fold. Both are a model scoring turns it never saw, so the
certified rates carry over to new tickets, and every rated turn serves both to fit and to certify.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from eval.decide.router.features import Variant, pipeline

FOLDS = 5


def fold_of(tickets: pd.Series | np.ndarray) -> np.ndarray:
    """Each ticket's fold (CRC-32 of its id: stable across runs, machines and Python's hash seed)."""
    return np.array([zlib.crc32(str(t).encode()) % FOLDS for t in tickets], dtype=int)


@dataclass(frozen=True)
class RiskModel:
    """One variant's fold models; a fold with a single class of labels to learn from scores its base rate."""

    variant: Variant
    models: tuple[Pipeline | float, ...]

    def risk(self, frame: pd.DataFrame, folds: np.ndarray) -> np.ndarray:
        """Risk of each row by the model of its fold."""
        out = np.empty(len(frame))
        for k, model in enumerate(self.models):
            here = folds == k
            if here.any():
                out[here] = model if isinstance(model, float) else model.predict_proba(frame[here])[:, 1]
        return out


def fit(frame: pd.DataFrame, bad: np.ndarray, variant: Variant) -> tuple[RiskModel, np.ndarray]:
    """The fold models of ``variant`` fitted on the rated turns (``bad``: harmful or unacceptable, 1/0) and
    every rated turn's out-of-fold risk."""
    folds = fold_of(frame["ticket_id"])
    models: list[Pipeline | float] = []
    for k in range(FOLDS):
        train = folds != k
        labels = bad[train]
        if len(np.unique(labels)) < 2:
            models.append(float(labels.mean()) if labels.size else 0.0)
        else:
            models.append(pipeline(variant).fit(frame[train], labels))
    model = RiskModel(variant, tuple(models))
    return model, model.risk(frame, folds)
