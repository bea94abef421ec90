"""Cuts: each category decided again per value of a ticket metadata key (``policy.cut_by``, e.g. language).

A category can be safe to automate in one language and not in another. Every item takes its
ticket's value of the key (``(unknown)`` when its metadata lacks it), and each (category, value)
is decided by the code that decides a category (``eval.decide.family``) on that value's share of
the evidence: the same estimates (prediction-powered where the run has automatic evidence), reviewer
agreement, gates and ratings-needed plan. A cut with
too few rated items is therefore human for want of evidence, as a category is.

Multiplicity: the non-inferiority tests of all cuts that pass the evidence gates, across every
category and every key, form one Holm family at ``noninferiority_alpha``. Each cut's tier is a
claim one may act on alone ("the AI may answer German refund requests"), so the error to bound is
that of any cut being wrongly automated; a family per category would let that grow with the
number of categories, unlike the category decisions, which are one family. Holm holds under any
dependence, which matters because cuts of different keys share items. The price is stricter
levels as cuts multiply: cut by the keys you would route on. The category decisions keep their own
family and do not change when cuts are asked for (a breakdown must not move the overall
recommendation), so category and cut claims read together err with probability at most twice
``noninferiority_alpha``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
from pydantic import BaseModel, ConfigDict, Field

from eval.decide.family import Group, decide_family
from eval.policy import Policy
from eval.records import CategoryDecision, CutDecision
from eval.store import read_jsonl

UNKNOWN = "(unknown)"
CUT_FIELDS = set(CutDecision.model_fields) - {"by", "value"}
BY = ["category", "cut", "value"]


def cuts_method() -> str:
    """What decisions.json's ``method`` adds when cuts were made."""
    return (__doc__ or "").strip()


def column(key: str) -> str:
    """The item-table column holding a metadata key's value."""
    return f"metadata.{key}"


class _MetadataRef(BaseModel):
    model_config = ConfigDict(extra="ignore")
    item_id: str
    metadata: dict[str, Any] = Field(default_factory=dict)


def _text(value: Any) -> str:
    if value is None or value == "":
        return UNKNOWN
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def cut_values(path: Path, keys: Sequence[str]) -> pd.DataFrame:
    """``item_id`` and a ``column(key)`` per key for every item of ``items.jsonl``.

    Read column-wise by pyarrow while every value is text; any other value (a number, a list)
    sends the file through the record reader, which also names a bad line."""
    schema = pa.schema([("item_id", pa.string()), ("metadata", pa.struct([(k, pa.string()) for k in keys]))])
    try:
        table = pj.read_json(path, parse_options=pj.ParseOptions(explicit_schema=schema,
                                                                  unexpected_field_behavior="ignore"))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        refs = list(read_jsonl(Path(path), _MetadataRef))
        return pd.DataFrame({"item_id": [r.item_id for r in refs],
                             **{column(k): [_text(r.metadata.get(k)) for r in refs] for k in keys}})
    values = {column(k): pc.struct_field(table["metadata"], [i]).to_pandas() for i, k in enumerate(keys)}
    return pd.DataFrame({"item_id": table["item_id"].to_pandas(),
                         **{c: v.replace("", None).fillna(UNKNOWN).astype(str) for c, v in values.items()}})


def _stacked(frame: pd.DataFrame, values: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """``frame`` once per key, with that key as ``cut`` and each row's value (by item_id) as ``value``."""
    return pd.concat([frame.assign(cut=key, value=frame["item_id"].map(values[column(key)]).fillna(UNKNOWN))
                      for key in keys], ignore_index=True)


def with_cuts(
    decisions: list[CategoryDecision], items: pd.DataFrame, table: pd.DataFrame, ratings: pd.DataFrame,
    policy: Policy, rng: np.random.Generator, auto: pd.DataFrame | None = None,
) -> list[CategoryDecision]:
    """Each category's decision as it was, plus ``cuts``: one per value of each ``policy.cut_by`` key.

    ``items`` holds a ``column(key)`` per key; ``table`` and ``ratings`` are the rated items and the
    ratings the categories were decided on, ``auto`` every item's automatic evidence (prediction-powered cuts).
    Cuts are ordered by key, then value, ``(unknown)`` last."""
    keys = policy.cut_by
    values = items.set_index("item_id")
    stacked = _stacked(items[["item_id", "ticket_id", "category"]], values, keys)
    tickets = {tuple(g): int(n) for g, n in stacked.groupby(BY)["ticket_id"].nunique().items()}
    rated = _stacked(table, values, keys)
    found = set(tickets) | {tuple(g) for g in rated[BY].drop_duplicates().itertuples(index=False)}
    groups: list[Group] = sorted(found, key=lambda g: (g[0], keys.index(g[1]), g[2] == UNKNOWN, g[2]))
    family = decide_family(groups, BY, rated, _stacked(ratings, values, keys), policy,
                           dict(zip(groups, rng.spawn(len(groups)))), tickets, items["ticket_id"].nunique(),
                           None if auto is None else _stacked(auto, values, keys))
    cuts: dict[str, list[CutDecision]] = {}
    for (cat, key, value), d in family.items():
        cuts.setdefault(cat, []).append(CutDecision(by=key, value=value, **d.model_dump(include=CUT_FIELDS)))
    return [d.model_copy(update={"cuts": cuts.get(d.category, [])}) for d in decisions]
