"""Numbers and gates in plain words, shared by the HTML and Markdown renderers.

Every formatter takes the value exactly as ``decisions.json`` holds it (``None`` for a value that
could not be computed, shown as a dash), so a reader can find each printed number in that file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eval.decide.evidence import KIND_WORDS
from eval.decide.gates import lacks_evidence
from eval.decide.router.slices import describe
from eval.records import CategoryDecision, Reason

DASH = "—"

TIER_LABEL = {"automate": "Automate", "assist": "Assist", "human": "Human"}
TIER_MEANING = {
    "automate": "AI may answer alone, with a weekly human audit sample",
    "assist": "AI drafts, a person approves or edits before sending",
    "human": "stays with people",
}
NEXT_TIER = {"human": "assist", "assist": "automate"}

GATE_LABEL = {
    "always_human": "Policy allows AI for this category",
    "min_rated": "Enough rated answers",
    "reviewer_alpha": "Reviewers agree with each other",
    "non_inferiority": "AI rated not worse than people (beyond the margin)",
    "critical_automate": "Harmful AI answers rare enough to run alone",
    "acceptable_diff": "AI answers acceptable as often as people's",
    "acceptable_assist": "AI drafts acceptable often enough to assist",
    "critical_assist": "Harmful AI drafts rare enough to assist",
    "unpaired_evidence": "Evidence compares answers on the same tickets",
}


def _defined(fmt: Callable[[float], str]) -> Callable[[float | None], str]:
    def wrapped(value: float | None) -> str:
        return DASH if value is None else fmt(value)
    return wrapped


rating = _defined(lambda v: f"{v:.2f}")
signed = _defined(lambda v: f"{v:+.2f}")
pct = _defined(lambda v: f"{v:.1%}")
signed_pct = _defined(lambda v: f"{v:+.1%}")
count = _defined(lambda v: f"{int(v):,}")
alpha = _defined(lambda v: f"{v:.3f}")

GATE_FORMAT: dict[str, Callable[[float | None], str]] = {
    "always_human": count, "min_rated": count, "reviewer_alpha": alpha, "non_inferiority": signed,
    "critical_automate": pct, "acceptable_diff": signed_pct, "acceptable_assist": pct, "critical_assist": pct,
}

FORMATS = {"rating": rating, "signed": signed, "pct": pct, "signed_pct": signed_pct, "count": count,
           "alpha": alpha}


def gate_value(gate: str, value: float | None, measure: str | None = None) -> str:
    """A gate's value or threshold as shown; a non-inferiority test of the win rate is a share."""
    return pct(value) if measure == "win_rate_ai" else GATE_FORMAT.get(gate, signed)(value)


def category_name(category: str) -> str:
    """``order_status`` -> ``Order status``: ids stay in tables, names in sentences."""
    text = category.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def listing(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def plural(n: int, word: str) -> str:
    if n == 1:
        return f"{n} {word}"
    return f"{n} {word[:-1]}ies" if word.endswith("y") else f"{n} {word}s"


def limit(value: float | None) -> str:
    """A policy threshold as a percentage without a needless ``.0``."""
    return pct(value).replace(".0%", "%")


def _critical(r: Reason, est: dict[str, Any]) -> str:
    crit = est.get("critical_ai", {})
    seen = f"in {crit.get('k')} of {crit.get('n')} rated answers" if crit else "in the rated answers"
    return (f"AI answers flagged harmful {seen}; the true rate could be up to {pct(r.value)}, "
            f"limit {limit(r.threshold)}")


def _noninferiority(r: Reason) -> str:
    v, t = r.value, r.threshold
    if r.measure == "win_rate_ai":
        if v is not None and t is not None and v > t:
            return ("the AI is not clearly as good as people once every category is tested together "
                    f"(reviewers prefer it in at least {pct(v)} of comparisons, {pct(t)} needed, Holm correction)")
        return (f"reviewers may prefer the AI answer in as few as {pct(v)} of comparisons (ties count half); "
                f"at least {pct(t)} is needed")
    if v is not None and t is not None and v > t:
        return ("the AI is not clearly as good as people once every category is tested together "
                f"(lower bound {signed(v)}, margin {signed(t)}, Holm correction)")
    return (f"AI answers may be rated up to {rating(None if v is None else -v)} points worse than people's "
            f"on the 1-5 scale; at most {rating(None if t is None else -t)} is tolerated")


UNSUPPORTED = {
    "critical_automate": "the ratings do not mark harmful answers, so they cannot show the AI is safe enough",
    "critical_assist": "the ratings do not mark harmful answers, so they cannot show the AI drafts are safe enough",
    "acceptable_diff": "the ratings do not say which answers were acceptable, so they cannot compare AI and people",
    "acceptable_assist": ("the ratings do not say which answers were acceptable, so they cannot show the AI drafts "
                          "are acceptable often enough"),
}
"""A flag gate the ratings have no data for (value None, eval.decide.gates)."""


def plain_reason(r: Reason, est: dict[str, Any]) -> str:
    """Why a failed gate holds a category back, in words a non-statistician can act on."""
    v, t = r.value, r.threshold
    if v is None and r.gate in UNSUPPORTED:
        return UNSUPPORTED[r.gate]
    if r.gate == "always_human":
        return "company policy keeps this category with people"
    if r.gate == "min_rated":
        return f"only {count(v)} answers rated so far, {count(t)} needed"
    if r.gate == "reviewer_alpha":
        return ("reviewers disagreed too often to trust their ratings"
                + (f" (agreement {alpha(v)}, needs {alpha(t)})" if v is not None else ""))
    if r.gate == "non_inferiority":
        return _noninferiority(r)
    if r.gate in ("critical_automate", "critical_assist"):
        return _critical(r, est)
    if r.gate == "acceptable_diff":
        return (f"AI answers were judged acceptable less often than people's (difference could be "
                f"{signed_pct(v)}; must stay above {signed_pct(t)})")
    if r.gate == "unpaired_evidence":
        return (f"the evidence is {KIND_WORDS['reviews_unpaired']}, which alone cannot show the AI is as good "
                "as people on the same tickets")
    if r.gate == "acceptable_assist":
        return (f"AI drafts were judged acceptable too rarely (could be as low as {pct(v)}; "
                f"needs at least {pct(t)})")
    return r.text


def cuts_sentence(c: CategoryDecision) -> str:
    """``assist overall; by language: en automate, de human (not enough evidence)``; "" without cuts."""
    if not c.cuts:
        return ""
    by_key: dict[str, list[str]] = {}
    for cut in c.cuts:
        short = " (not enough evidence)" if lacks_evidence(cut.reasons) else ""
        by_key.setdefault(cut.by, []).append(f"{cut.value} {cut.tier}{short}")
    return "; ".join([f"{c.tier} overall"] + [f"by {key}: {', '.join(parts)}" for key, parts in by_key.items()])


def _difference(e: dict[str, Any] | None) -> str:
    e = e or {}
    return f"{signed(e.get('estimate'))} ({signed(e.get('low'))} to {signed(e.get('high'))})"


def evidence_sentence(c: CategoryDecision) -> str:
    """Which kind of evidence decided the category, and the other kinds beside it; "" for a run without reviews."""
    if c.evidence is None:
        return ""
    text = f"Decided on {KIND_WORDS[c.evidence]}"
    if c.evidence == "reviews_unpaired":
        text += (f". AI − human review score {_difference(c.estimates.get('diff_mean'))}; "
                 f"{_difference(c.estimates.get('diff_mean_adjusted'))} once adjusted for what was known of the "
                 "tickets before the first answer")
    others = [f"{KIND_WORDS[k]} ({count(o.get('rated_items'))} answers, AI − human {_difference(o.get('diff_mean'))})"
              for k, o in (c.other_evidence or {}).items() if k in KIND_WORDS]
    return text + (f". Also at hand: {'; '.join(others)}." if others else ".")


ESTIMATE_ROWS = (
    ("Mean rating of the AI answers (1-5)", "mean_ai", "rating"),
    ("Mean rating of the human answers (1-5)", "mean_human", "rating"),
    ("AI minus human rating", "diff_mean", "signed"),
    ("AI preferred by reviewers (ties count half)", "win_rate_ai", "pct"),
    ("AI answers acceptable", "acceptable_ai", "pct"),
    ("Human answers acceptable", "acceptable_human", "pct"),
    ("AI minus human acceptable", "diff_acceptable", "signed_pct"),
    ("AI answers flagged harmful", "critical_ai", "pct"),
    ("Human answers flagged harmful", "critical_human", "pct"),
    ("Rubric score of the AI answers (0-1)", "rubric_ai", "rating"),
    ("Rubric score of the human answers (0-1)", "rubric_human", "rating"),
)

CAVEATS = (
    ("Reviewers judged single answers; they did not see how customers reacted, whether problems got solved, "
     "or how satisfaction and churn change when the AI answers."),
    ("The AI answered each turn of a conversation the human agent had led; a conversation led by the AI from "
     "start to end may drift in ways this replay does not test."),
    ("The results hold for the period and topic mix of this data; new products, policies, seasons or a new "
     "model version need a new evaluation."),
    ("Harmful answers that reviewers did not notice are not counted; the weekly audit samples exist to catch a "
     "rising rate after launch."),
    ("Categories come from the helpdesk's labels; a mislabelled ticket is judged under the wrong category."),
)


def automatic_sentence(c: CategoryDecision) -> str:
    """What the rubric and judge evidence on every item was worth here; "" where it made no estimate."""
    if c.effective_ratings is None:
        return ""
    key = "diff_mean" if c.estimates.get("diff_mean", {}).get("method") else "win_rate_ai"
    e = c.estimates.get(key, {})
    extra = c.effective_ratings - (e.get("n") or 0)
    text = (f"The rubric and judge on all {count((e.get('n') or 0) + (e.get('unrated') or 0))} answers counted as "
            f"{count(max(extra, 0))} extra ratings here ({count(e.get('n'))} rated answers worth "
            f"{count(c.effective_ratings)})")
    if c.ratings_needed != c.ratings_needed_ratings_only and c.ratings_needed is not None:
        text += (f"; {count(c.ratings_needed)} more ratings are needed, against "
                 f"{count(c.ratings_needed_ratings_only)} with the ratings alone")
    return text + ("; the estimate stays valid whatever the judge's quality, because the rated answers measure "
                   "and correct its bias." + design_sentence(c))


def design_sentence(c: CategoryDecision) -> str:
    """How follow-up ratings were drawn by certainty stratum (``eval.decide.design``); "" where they were not."""
    strata = {s["stratum"]: s for s in c.estimates.get("design", {}).get("strata", [])}
    unclear, clear = strata.get("unclear"), strata.get("clear")
    if not (unclear and clear and unclear["items"] and clear["items"]):
        return ""
    return (f" Follow-up ratings went where the automatic evidence is least certain: {count(unclear['rated'])} of the "
            f"{count(unclear['items'])} unclear answers (a judge tie, judge and rubric disagreeing, or a critical flag) "
            f"were rated, {unclear['rated'] / unclear['items']:.0%}, against {clear['rated'] / clear['items']:.0%} of "
            f"the clear ones, and every estimate weighs each by its share of the answers.")


def judge_sentence(judge: dict[str, Any] | None) -> str:
    """The judge's calibration in this category in words; "" where no judge ran."""
    if not judge:
        return ""
    text = f"The judge gave verdicts on {count(judge.get('judged_items'))} answers"
    if judge.get("judge_errors"):
        text += f" ({count(judge['judge_errors'])} failed)"
    agree, each = judge.get("agreement_with_reviewers"), judge.get("reviewers_with_each_other")
    if agree is None:
        return text + "; no rated answer to calibrate it against."
    text += f"; it agrees with reviewers {agree:.2f} of the time (reviewers with each other {rating(each)})"
    lenient = judge.get("leniency")
    if lenient is not None and abs(lenient) >= 0.05:
        text += (f" and prefers the AI answer {abs(lenient) * 100:.0f} percentage points {'more' if lenient > 0 else 'less'}"
                 " often than they do")
    if judge.get("win_rate_ai") is not None:
        text += f"; over every judged answer it prefers the AI {pct(judge['win_rate_ai'])} of the time"
    return text + ". This calibration is shown for reference and drives no gate."


def judge_disagreement(decisions: list[CategoryDecision]) -> str:
    """Where the judge disagrees with reviewers most (the two lowest agreements); "" without a judge."""
    agreed = sorted((j["agreement_with_reviewers"], c.category) for c in decisions
                    if (j := c.judge or {}).get("agreement_with_reviewers") is not None)
    if not agreed:
        return ""
    worst = [f"{category_name(cat)} ({a:.2f})" for a, cat in agreed[:2]]
    return (f"The judge disagrees with reviewers most in {listing(worst)}; its verdicts count there only as far "
            "as the rated answers show they track the reviewers.")


SLICES_SHOWN = 5


def _slice_effect(s: dict[str, Any]) -> str:
    harm = (f"{s['ai_harmful']:.0%} of AI answers harmful, people {(s['human_harmful'] or 0.0):.0%}"
            if "harm" in s["found"] else "")
    quality = f"AI rated {-s['mean_diff']:.2f} points below people" if "quality" in s["found"] else ""
    return ", ".join(p for p in (harm, quality) if p)


def slices_sentence(c: CategoryDecision) -> str:
    """Where within the category the AI does clearly worse than people (``eval.decide.router.slices``), so a
    reader sees what to keep from it; "" where no search ran."""
    found = (c.routing or {}).get("slices")
    if found is None:
        return ""
    if not found:
        return ("No subgroup of these tickets (by channel, language, ticket facts or frequent phrases) where the AI "
                "is clearly worse than people.")
    parts = [f"{describe(s)} ({s['share']:.0%} of rated turns: {_slice_effect(s)})" for s in found[:SLICES_SHOWN]]
    more = f"; and {len(found) - SLICES_SHOWN} more" if len(found) > SLICES_SHOWN else ""
    return f"Where the AI does clearly worse than people: {'; '.join(parts)}{more}."


def routing_sentence(c: CategoryDecision) -> str:
    """The routes the router certified within the category for drafted AI answers (``eval.decide.router``), the
    share of turns each takes and the harmful bound; "" without a router."""
    r = (c.routing or {}).get("answer")
    if not r:
        return ""
    confidence = f"{(c.routing or {}).get('confidence', 0.95):.0%}"
    ai, assist, name = r["ai"], r["assist"], category_name(c.category)
    if ai.get("threshold") is None and assist.get("threshold") is None:
        return (f"No share of the {name} turns could be routed to the AI or to AI drafts with {confidence} "
                "confidence: all go to people.")
    parts = []
    if ai.get("threshold") is not None:
        parts.append(f"AI may answer {ai['share']:.0%} of the {name} turns alone (the clear ones)")
    if assist.get("threshold") is not None:
        parts.append(f"{'AI' if not parts else 'it'} drafts for a person on {assist['share']:.0%}")
    parts.append(f"{r['human_share']:.0%} go to people")
    bounds = [f"at most {pct(x['harm_upper'])} of the AI's {what} there are harmful"
              for x, what in ((ai, "answers"), (assist, "drafts")) if x.get("threshold") is not None]
    return f"{'; '.join(parts)}; with {confidence} confidence {' and '.join(bounds)}."
