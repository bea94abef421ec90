"""The router's risk model: cross-fitted by ticket, and each new ticket scored by one fold's model.

A ticket's fold is a hash of its id, fixed for good. Training gives every rated turn the risk of the
classifier fitted without its fold's ratings (out-of-fold), on which the thresholds are certified;
routing scores a new ticket with the classifier of its own fold. Both are a classifier scoring turns
whose ratings it never saw, so the certified rates carry over to new tickets, and every rated turn
serves both to fit and to certify. The vectoriser is fitted once on all rated turns' text: label-free,
it only sees the calibration turns' words (their vocabulary and frequencies), never their ratings.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from eval.decide.router.features import Variant, classifier

FOLDS = 5


def fold_of(tickets: pd.Series | np.ndarray) -> np.ndarray:
    """Each ticket's fold (CRC-32 of its id: stable across runs, machines and Python's hash seed)."""
    return np.array([zlib.crc32(str(t).encode()) % FOLDS for t in tickets], dtype=int)


@dataclass(frozen=True)
class RiskModel:
    """One variant's fold classifiers over the vectorised turns (``columns``: how many leading columns it
    reads; None: all); a fold with a single class of labels to learn from scores its base rate."""

    variant: Variant
    models: tuple[LogisticRegression | float, ...]
    columns: int | None

    def risk(self, x: sparse.csr_matrix, folds: np.ndarray) -> np.ndarray:
        """Risk of each row of ``x`` by the classifier of its fold."""
        x = x if self.columns is None else x[:, :self.columns]
        out = np.empty(x.shape[0])
        for k, model in enumerate(self.models):
            here = folds == k
            if here.any():
                out[here] = model if isinstance(model, float) else model.predict_proba(x[here])[:, 1]
        return out


def fit(x: sparse.csr_matrix, folds: np.ndarray, bad: np.ndarray, variant: Variant,
        columns: int | None) -> tuple[RiskModel, np.ndarray]:
    """The fold classifiers of ``variant`` fitted on the vectorised rated turns (``bad``: harmful or
    unacceptable, 1/0) and every rated turn's out-of-fold risk."""
    xs = x if columns is None else x[:, :columns]
    models: list[LogisticRegression | float] = []
    for k in range(FOLDS):
        train = folds != k
        labels = bad[train]
        if len(np.unique(labels)) < 2:
            models.append(float(labels.mean()) if labels.size else 0.0)
        else:
            models.append(classifier().fit(xs[train], labels))
    model = RiskModel(variant, tuple(models), columns)
    return model, model.risk(x, folds)
