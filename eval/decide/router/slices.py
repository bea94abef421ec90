"""Where the AI fails (issue 18): subgroups of a category where the AI is clearly worse than people.

Candidates per category: each channel, language, categorical ticket fact (``key=value``) and frequent phrase
of the customer's messages (word 1-3-grams in 5% to 50% of its rated turns). Paired tests on the same turns,
clustered by ticket, each intersection-union (p: the larger of two; a category uniformly worse, its gates'
finding, yields no chance subgroup). Harm: the AI harms more than people there (exact sign test over tickets
of the AI - human harmful count, McNemar's at one rated turn a ticket) and than outside it (Fisher's exact,
one unit per ticket and side; a ticket on both sides only makes it conservative). Quality: the AI - human
score below 0 there and below its mean outside (one-sided t, ticket-clustered SEs). Benjamini-Hochberg over
every test of every category at 1 - confidence, less the discrete tests that could not reach it even alone
(Tarone; Gilbert 2005). Reported when a test rejects and the effect is material: a harmful rate at least
twice the outside one and the automate limit, or a mean score at least ``margin`` below people's.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats as sps
from sklearn.feature_extraction.text import CountVectorizer
from statsmodels.stats.multitest import multipletests

from eval.policy import Policy
from eval.redact import redact

Kind = Literal["channel", "language", "fact", "phrase"]
MIN_TURNS, MIN_SHARE, MAX_PHRASE_SHARE = 10, 0.05, 0.5
CAP = 200  # candidates per category at most, the most frequent kept
SNIPPET, NESTED = 160, 0.8


@dataclass(frozen=True)
class Slice:
    """A subgroup of a category where the AI is clearly worse than people, with its evidence."""

    category: str
    kind: Kind
    value: str
    turns: int
    category_turns: int
    share: float
    ai_harmful: float | None
    human_harmful: float | None
    outside_ai_harmful: float | None
    mean_diff: float | None  # mean AI - human score in the slice (None: no scored turn)
    found: tuple[str, ...]  # the failures shown: harm, quality or both
    harm_p: float | None
    harm_p_adjusted: float | None
    quality_p: float | None
    quality_p_adjusted: float | None
    examples: tuple[str, ...]


def _phrases(texts: pd.Series, low: int) -> list[tuple[Kind, str, np.ndarray]]:
    """Word 1-3-grams in at least ``low`` and at most half the texts, longest first among equal supports."""
    vec = CountVectorizer(binary=True, stop_words="english", ngram_range=(1, 3), min_df=low, max_df=MAX_PHRASE_SHARE)
    try:
        x = vec.fit_transform(texts.fillna("").tolist()).tocsc()
    except ValueError:  # no phrase that frequent (or too few texts for both bounds)
        return []
    names = vec.get_feature_names_out()
    support = np.asarray(x.sum(axis=0)).ravel()
    order = sorted(range(len(names)), key=lambda j: (-support[j], -len(names[j].split()), names[j]))
    masks = np.zeros((len(names), x.shape[0]), bool)
    for j in range(len(names)):
        masks[j, x.indices[x.indptr[j]:x.indptr[j + 1]]] = True
    return [("phrase", str(names[j]), masks[j]) for j in order]


def candidates(part: pd.DataFrame) -> list[tuple[Kind, str, np.ndarray]]:
    """The category's candidate slices as (kind, value, mask): frequent enough, something left outside, each
    set of turns once (the first name kept), at most ``CAP`` by support."""
    n = len(part)
    low = max(MIN_TURNS, math.ceil(MIN_SHARE * n))
    found: list[tuple[Kind, str, np.ndarray]] = []
    for kind in ("channel", "language"):
        column = part[kind].fillna("").astype(str)
        found += [(kind, v, (column == v).to_numpy()) for v in sorted(set(column) - {""})]
    tokens = part["facts"].fillna("").str.split()
    found += [("fact", t, np.array([t in ts for ts in tokens], bool))
              for t in sorted({t for ts in tokens for t in ts if "=" in t})]
    found += _phrases(part["customer"], low)
    seen: set[bytes] = set()
    kept = []
    for kind, value, mask in found:
        size, key = int(mask.sum()), np.packbits(mask).tobytes()
        if size >= low and n - size >= MIN_TURNS and key not in seen:
            seen.add(key)
            kept.append((kind, value, mask))
    return sorted(kept, key=lambda c: -int(c[2].sum()))[:CAP]


def _clustered(values: np.ndarray, codes: np.ndarray) -> tuple[float, float, int]:
    """Mean, its ticket-clustered SE and the number of tickets (NaN SE below two tickets)."""
    inv = np.unique(codes, return_inverse=True)[1]
    g = int(inv.max()) + 1 if len(values) else 0
    if g < 2:
        return math.nan, math.nan, g
    mean = float(values.mean())
    sums = np.bincount(inv, weights=(values - mean) / len(values), minlength=g)
    return mean, math.sqrt(g / (g - 1) * float(sums @ sums)), g


def _t_below(estimate: float, se: float, df: int) -> float:
    """One-sided p of ``estimate < 0`` (NaN: untestable)."""
    if df < 1 or math.isnan(se) or se == 0:
        return math.nan if df < 1 or math.isnan(se) else float(estimate >= 0)
    return float(sps.t.cdf(estimate / se, df))


def _quality_p(diff: np.ndarray, codes: np.ndarray, mask: np.ndarray) -> float:
    """IUT p of the AI - human score below 0 in the slice and below the mean outside (NaN: untestable)."""
    ok = ~np.isnan(diff)
    m_in, se_in, g_in = _clustered(diff[mask & ok], codes[mask & ok])
    m_out, se_out, g_out = _clustered(diff[~mask & ok], codes[~mask & ok])
    people = _t_below(m_in, se_in, g_in - 1)
    outside = _t_below(m_in - m_out, math.hypot(se_in, se_out), min(g_in, g_out) - 1)
    return math.nan if math.isnan(people) or math.isnan(outside) else max(people, outside)


def _units(harm: np.ndarray, codes: np.ndarray, side: np.ndarray) -> tuple[int, int]:
    """(tickets, tickets with a harmful AI answer) among the turns of ``side``."""
    harmful = np.bincount(codes[side], weights=harm[side], minlength=codes.max() + 1)
    return len(np.unique(codes[side])), int((harmful > 0).sum())


def _harm_p(ai: np.ndarray, human: np.ndarray, codes: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """IUT p of the AI harming more than people in the slice and more than outside it, with the smallest p
    the test could give whatever the harmful answers (Tarone's screen)."""
    both = mask & ~np.isnan(ai) & ~np.isnan(human)
    net = np.bincount(codes[both], weights=ai[both] - human[both], minlength=codes.max() + 1)
    worse, discordant = int((net > 0).sum()), int((net != 0).sum())
    (n_in, h_in), (n_out, h_out) = (_units(ai, codes, side & ~np.isnan(ai)) for side in (mask, ~mask))
    if not discordant or not n_in or not n_out:
        return math.nan, 1.0
    sign = float(sps.binomtest(worse, discordant, 0.5, alternative="greater").pvalue)
    fisher = float(sps.fisher_exact([[h_in, n_in - h_in], [h_out, n_out - h_out]], alternative="greater")[1])
    least = max(0.5 ** discordant, float(sps.hypergeom.pmf(min(h_in + h_out, n_in), n_in + n_out, h_in + h_out, n_in)))
    return max(sign, fisher), least


def _rate(values: np.ndarray) -> float | None:
    known = values[~np.isnan(values)]
    return float(known.mean()) if len(known) else None


def _examples(texts: pd.Series, order: np.ndarray, kind: Kind, value: str) -> tuple[str, ...]:
    """Up to 3 redacted snippets of the customer's messages, around the phrase where it is one."""
    out: list[str] = []
    for text in texts.iloc[order]:
        clean = " ".join(redact(str(text)).split())
        at = clean.lower().find(value.split()[0]) if kind == "phrase" else -1
        start = max(0, at - SNIPPET // 3) if at > SNIPPET // 2 else 0
        snippet = ("…" if start else "") + clean[start:start + SNIPPET]
        if snippet and snippet not in out:
            out.append(snippet)
        if len(out) == 3:
            break
    return tuple(out)


def _r(value: Any) -> Any:
    """Floats to 6 significant digits (NaN to None), anything else as it is."""
    return (None if math.isnan(value) else float(f"{value:.6g}")) if isinstance(value, float) else value


def find_slices(turns: pd.DataFrame, policy: Policy) -> list[dict[str, Any]]:
    """The slices of every category of ``turns`` (``eval.decide.router.store.rated_turns``) where the AI is
    clearly worse than people, as dicts for decisions.json: by category, then strongest evidence first."""
    alpha = 1 - policy.confidence
    rows: list[dict[str, Any]] = []
    tests: list[tuple[int, str, float]] = []
    for category, part in turns.groupby("category", sort=True):
        part = part.reset_index(drop=True)
        codes = np.unique(part["ticket_id"].astype(str), return_inverse=True)[1]
        ai, human, diff = (part[c].to_numpy(float) for c in ("crit_ai", "crit_human", "diff"))
        worst = np.lexsort((np.nan_to_num(diff, nan=0.0), -np.nan_to_num(ai, nan=0.0)))
        for kind, value, mask in candidates(part):
            harm_p, least = _harm_p(ai, human, codes, mask)
            quality_p = _quality_p(diff, codes, mask)
            if not math.isnan(harm_p) and least <= alpha:
                tests.append((len(rows), "harm", harm_p))
            if not math.isnan(quality_p):
                tests.append((len(rows), "quality", quality_p))
            rows.append({"category": str(category), "kind": kind, "value": value, "turns": int(mask.sum()),
                         "category_turns": len(part), "share": float(mask.mean()), "ai_harmful": _rate(ai[mask]),
                         "human_harmful": _rate(human[mask]), "outside_ai_harmful": _rate(ai[~mask]),
                         "mean_diff": _rate(diff[mask]), "harm_p": harm_p, "quality_p": quality_p,
                         "found": [], "texts": part["customer"], "order": worst[mask[worst]], "mask": mask})
    found = sorted(_decide(rows, tests, policy), key=lambda r: (
        r["category"], min(r[f"{t}_p_adjusted"] for t in r["found"]), r["kind"], r["value"]))
    return _records(found)


def _decide(rows: list[dict[str, Any]], tests: list[tuple[int, str, float]], policy: Policy) -> list[dict[str, Any]]:
    """Benjamini-Hochberg over every test; the rows with a material rejection, ``found`` naming the tests."""
    alpha = 1 - policy.confidence
    adjusted = multipletests([p for _, _, p in tests], alpha=alpha, method="fdr_bh")[1] if tests else []
    for (i, test, _), p_adj in zip(tests, adjusted):
        row = rows[i]
        row[f"{test}_p_adjusted"] = float(p_adj)
        if test == "harm":
            rate, outside = row["ai_harmful"] or 0.0, row["outside_ai_harmful"] or 0.0
            material = rate >= max(2 * outside, policy.critical_ub_automate)
        else:
            material = row["mean_diff"] is not None and row["mean_diff"] <= -policy.margin
        if p_adj <= alpha and material:
            row["found"].append(test)
    return [row for row in rows if row["found"]]


def _records(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The slices as dicts, less any lying mostly (``NESTED``) within a stronger one: the same failure twice."""
    kept: list[dict[str, Any]] = []
    for row in rows:
        mask = row["mask"]
        if not any(k["category"] == row["category"] and (mask & k["mask"]).sum() >= NESTED * mask.sum() for k in kept):
            kept.append(row)
    out = []
    for row in kept:  # examples only for the slices shown: redaction is the slow part
        row.update(found=tuple(row["found"]), examples=_examples(row["texts"], row["order"], row["kind"], row["value"]))
        s = Slice(**{f.name: _r(row.get(f.name)) for f in fields(Slice)})
        out.append({**asdict(s), "found": list(s.found), "examples": list(s.examples)})
    return out


def describe(s: dict[str, Any]) -> str:
    """The slice as a noun phrase: ``tickets that mention “chargeback”``."""
    value = s["value"].replace("_", " ")
    key, _, val = value.partition("=")
    return {"phrase": f"tickets that mention “{value}”", "channel": f"tickets on the {value} channel",
            "language": f"tickets in language “{value}”", "fact": f"tickets whose {key} is “{val}”"}[s["kind"]]


def effect(s: dict[str, Any]) -> str:
    """What fails there: ``35% harmful (people 2%)`` and/or ``rated 0.62 points below people's``."""
    harm = f"{s['ai_harmful']:.0%} harmful (people {(s['human_harmful'] or 0.0):.0%})" if "harm" in s["found"] else ""
    quality = f"rated {-s['mean_diff']:.2f} points below people's" if "quality" in s["found"] else ""
    return " and ".join(p for p in (harm, quality) if p)


def slice_line(s: dict[str, Any]) -> str:
    """One line: ``AI answers to tickets that mention “chargeback”: 35% harmful (people 2%), 48 of 320 rated turns``."""
    return f"AI answers to {describe(s)}: {effect(s)}, {s['turns']:,} of {s['category_turns']:,} rated turns"
