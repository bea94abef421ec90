"""The router in the run folder: learned from its rated turns, saved with its training manifest.

``RUN/router/router.pkl`` holds the fitted router, pickled by the standard library's C pickler:
joblib's pure-Python pickler took a second for the vocabularies, and its gain (memory-mapped large
arrays) does not apply to a few sparse classifiers. A pickle runs code when loaded, so load only
routers your own runs wrote. ``RUN/router/training.json`` says what it was trained on and with
which library versions, or why no router was learned. Loading refuses a router written by another
scikit-learn version, whose pickles are not guaranteed to load or to predict the same.
"""

from __future__ import annotations

import json
import os
import pickle
import platform
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from pydantic import BaseModel

from eval.columnar import lines_at
from eval.decide.estimates import item_table
from eval.decide.router import MIN_POSITIVES, Router, learn_router, routing_summary
from eval.decide.router.features import turn_features
from eval.decide.router.slices import find_slices
from eval.errors import MissingInput, UserError
from eval.policy import Policy
from eval.records import CategoryDecision, Turn
from eval.run.folder import RunFolder
from eval.store import parse_line, read_jsonl, write_json


class _Answer(BaseModel):
    text: str | None = None


class _RatedTurn(BaseModel):
    """What the router reads of an item: an item index without texts (decide needs none) still learns a
    router from the facts and the ticket's kind."""

    item_id: str
    ticket_id: str
    category: str
    context: list[Turn] = []
    metadata: dict[str, Any] = {}
    ai: _Answer = _Answer()


class _Channel(BaseModel):
    ticket_id: str
    channel: str | None = None


def _channels(folder: RunFolder, tickets: set[str]) -> dict[str, str | None]:
    if not folder.tickets.exists():
        return {}
    return {t.ticket_id: t.channel for t in read_jsonl(folder.tickets, _Channel) if t.ticket_id in tickets}


def rated_turns(folder: RunFolder, table: pd.DataFrame, index: pd.DataFrame) -> pd.DataFrame:
    """The router's features of every rated turn (``table``: the rated item table), with its ratings;
    ``index``: items.jsonl's item ids in file order, which say the rated turns' lines without parsing the others."""
    at = np.flatnonzero(index["item_id"].isin(set(table["item_id"])).to_numpy())
    rows: list[dict[str, Any]] = []
    for lineno, line in lines_at(folder.items, at):
        item = parse_line(folder.items, lineno, line, _RatedTurn)
        rows.append({"item_id": item.item_id, "ticket_id": item.ticket_id, "context": item.context,
                     "metadata": item.metadata, "category": item.category, "ai": item.ai.text})
    channel = _channels(folder, {r["ticket_id"] for r in rows})
    frame = pd.DataFrame([{"item_id": r["item_id"], "ticket_id": r["ticket_id"],
                           **turn_features(r["category"], r["context"], r["metadata"], channel.get(r["ticket_id"]), r["ai"])}
                          for r in rows], columns=["item_id", "ticket_id", "customer", "facts", "ai", "category",
                                                   "channel", "language"])
    return frame.merge(table[["item_id", "crit_ai", "crit_human", "acc_ai", "acc_human", "diff"]], on="item_id", how="inner")


def with_routing(folder: RunFolder, categories: list[CategoryDecision], ratings: pd.DataFrame,
                 policy: Policy, index: pd.DataFrame) -> list[CategoryDecision]:
    """``categories`` with their certified routes, the router learned from the run's reliable paired ``ratings``
    and saved (a stale one removed when there is nothing to learn from); ``index``: as :func:`rated_turns`."""
    turns = rated_turns(folder, item_table(ratings, None), index) if len(ratings) else None
    router = None if turns is None else learn_router(turns, policy)
    _save(folder, router)
    slices = [] if turns is None or router is None else find_slices(turns, policy)
    out = []
    for c in categories:
        routing = routing_summary(router, c.category)
        if routing is not None:
            routing["slices"] = [s for s in slices if s["category"] == c.category]
        out.append(c.model_copy(update={"routing": routing}))
    return out


def _save(folder: RunFolder, router: Router | None) -> None:
    """router.pkl and training.json; without a router, training.json says so (decide's declared output
    exists either way) and a stale router.pkl is removed."""
    model, training = folder.path("router_model"), folder.path("router_training")
    model.parent.mkdir(parents=True, exist_ok=True)
    if router is None:
        model.unlink(missing_ok=True)
        write_json(training, {"router": None, "why": "no paired ratings, or too few harmful or unacceptable AI "
                                                     f"answers among them (fewer than {MIN_POSITIVES}) to learn from"})
        return
    partial = model.with_name(model.name + ".partial")
    with open(partial, "wb") as fh:
        pickle.dump(router, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(partial, model)
    write_json(training, {
        **router.training, "variants": sorted(router.models), "categories": sorted(next(iter(router.routes.values()))),
        "versions": {"scikit-learn": sklearn.__version__, "numpy": np.__version__, "python": platform.python_version()},
    })


def load_router(folder: RunFolder) -> Router:
    """The run's router; a missing one or one written by another scikit-learn is an error."""
    path = folder.path("router_model")
    if not path.exists():
        raise MissingInput(f"{path}: no router; run `support-eval decide` on a run with paired ratings", file=path)
    training = folder.path("router_training")
    versions = json.loads(training.read_text(encoding="utf-8")).get("versions", {}) if training.exists() else {}
    if versions.get("scikit-learn") != sklearn.__version__:
        raise UserError(f"{path}: written with scikit-learn {versions.get('scikit-learn')}, this is "
                        f"{sklearn.__version__}; run `support-eval decide` again to relearn it", file=path)
    with open(path, "rb") as fh:
        router = pickle.load(fh)
    if not isinstance(router, Router):
        raise UserError(f"{path}: not a router", file=path)
    return router
