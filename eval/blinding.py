"""Blinding: strip what gives away an answer's source, and audit whether the blinding holds.

Reviewers must not learn which answer is the AI's. Historical agent answers carry names and
signatures; AI answers carry self-references ("as an AI assistant") and their own fixed
greetings and sign-offs. Both answers (and the agent turns of the context) go through the
same stripping, so neither side is treated differently:

* greeting formulas in the first lines ("Hi Noah,", "Dear team,", also after a prefix:
  "Re: your order\nHi Noah," or "Thanks for waiting. Hi Noah,"), and the greeted name everywhere,
* sentences that are fixed formulas ("I hope this helps!", "Have a good day.", "Of course."),
* sentences with an AI self-reference ("I'm a virtual assistant", "as an AI assistant"),
* signature blocks ("Kind regards,\\nJulia\\nCustomer Support", "- Samir", "— Virtual Assistant"),
* agent names anywhere, learned from the signatures of the historical answers.

Every text a reviewer sees is then cut at ``SHOWN_CHARS`` characters with a visible "(cut)":
the same cap on both answers and on every context turn, so a cut says nothing about the source
(a 1 MB shadow-mode answer must not reach a packet whole).

The audit then tries to tell AI from human on the texts exactly as reviewers see them: a
TF-IDF + logistic regression classifier, 5-fold cross-validated AUC, grouped so both answers
of an item sit in the same fold. An AUC well above 0.5 after stripping means style or content
still separates the sources; above 0.75 the audit warns.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel

from eval.records import Item
from eval.redact import NOT_NAMES, customer_names, mask_names, redact

EMPTY = "[greeting or sign-off only]"
"""Shown when stripping leaves nothing, so an answer never reaches a reviewer blank."""
AUC_WARNING = 0.75

SHOWN_CHARS = 4000
"""Most characters of any one text (answer or context turn) a reviewer is shown."""
CUT_MARK = " … (cut)"
GREETING_LINES = 3
"""A greeting is looked for in this many first non-empty lines of an answer."""

_NAME = r"[A-ZÀ-Þ][\w'’-]*"
_GREETING_CORE = (
    rf"(?i:hi|hello|hey|dear|greetings|good (?:morning|afternoon|evening))(?![\w'’-])(?i:[ \t]+there)?"
    rf"(?:[ \t]+({_NAME})(?:[ \t]+{_NAME})?)?"
)
_GREETING_AT_LINE = re.compile(rf"^[ \t]*{_GREETING_CORE}[ \t]*[,!.:]?[ \t]*")
_GREETING_IN_LINE = re.compile(rf"(?<=[.!?:;])[ \t]+{_GREETING_CORE}[ \t]*[,!:][ \t]*")
"""After a sentence or a prefix ("Re: x. Hi Noah,") a greeting needs its punctuation: fewer false hits."""
_SELF_REFERENCE = re.compile(
    r"\bas an? (?:ai|virtual|automated|digital)\b|\bi(?:'m|’m| am) (?:an?|the|your) "
    r"(?:\w+ )?(?:ai|virtual|automated|digital|bot|chatbot)\b|\blanguage model\b|\bchatbot\b"
    r"|\bai assistant\b|\bvirtual assistant\b|\bautomated (?:support )?assistant\b|\(automated\)",
    re.IGNORECASE,
)
_FORMULAS = [
    r"(?:great|good|excellent) question",
    r"(?:of course|sure|absolutely|certainly)(?:,? [^.!?]{0,30})?",
    r"thanks?(?: you)?(?: so much| very much)? for [^.!?]{0,60}",
    r"i (?:completely |fully )?understand (?:your concern|you'd like more information)",
    r"i hope (?:this|that|the above)[^.!?]{0,50}",
    r"is there anything else[^.!?]*",
    r"(?:please )?(?:don't|do not) hesitate[^.!?]*",
    r"let me (?:know if|clarify)[^.!?]*",
    r"have an? (?:good|great|nice|wonderful|lovely|pleasant) (?:day|evening|weekend|one)[^.!?]*",
    r"if you (?:have|need) any (?:other|further|more) [^.!?]*",
    r"(?:i'm|i am|we're|we are) (?:always )?(?:here|happy|glad) to help[^.!?]*",
    r"happy to help[^.!?]*",
    r"i(?:'d| would) be (?:glad|happy) to (?:help|assist)[^.!?]*",
]
_FORMULA = re.compile(rf"(?:{'|'.join(_FORMULAS)})[.!?]*", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_DASH_SIGNATURE = re.compile(rf"(?:^|\s+)[—–-]+\s*({_NAME}(?:[ ,]+[\w()'’-]+){{0,4}})\s*$")
_VALEDICTION = re.compile(
    r"^(?:kind regards|best regards|warm regards|regards|best wishes|best|many thanks|thanks|"
    r"thank you|cheers|sincerely|yours sincerely|all the best)(?:[,.!]\s*(.{0,40}))?$",
    re.IGNORECASE,
)
_TEAM_WORDS = frozenset(
    "customer support service care team help desk helpdesk the virtual assistant automated".split()
)


def _words(text: str) -> list[str]:
    return re.findall(r"[\w'’-]+", text)


def _is_team_line(line: str, names: frozenset[str]) -> bool:
    """A short line made only of team words and names ("Customer Support", "Julia")."""
    words = _words(line)
    return 0 < len(words) <= 4 and all(w.lower() in _TEAM_WORDS or w in names for w in words)


def _split_signature(text: str, names: frozenset[str]) -> tuple[str, list[str]]:
    """(body, signature parts) with the trailing signature block cut off."""
    lines = text.rstrip().split("\n")
    parts: list[str] = []
    while lines and _is_team_line(lines[-1], names):
        parts.insert(0, lines.pop())
    for i in range(max(0, len(lines) - 3), len(lines)):
        m = _VALEDICTION.match(lines[i].strip())
        if m and all(len(_words(x)) <= 4 for x in lines[i + 1:]):
            parts = [m.group(1) or "", *lines[i + 1:], *parts]
            lines = lines[:i]
            break
    if lines:
        m = _DASH_SIGNATURE.search(lines[-1])
        if m:
            parts.insert(0, m.group(1))
            lines[-1] = lines[-1][:m.start()]
    return "\n".join(lines), parts


def _keep_sentence(sentence: str) -> bool:
    return not (_FORMULA.fullmatch(sentence.strip()) or _SELF_REFERENCE.search(sentence))


def _mask_names(text: str, names: frozenset[str]) -> str:
    if not names:
        return text
    pattern = r"\b(?:" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + r")\b"
    return re.sub(pattern, "[NAME]", text)


def _find_greeting(text: str) -> tuple[int, re.Match[str]] | None:
    """(line number, match) of the first greeting in the first ``GREETING_LINES`` non-empty lines."""
    lines, seen = text.split("\n"), 0
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        m = _GREETING_AT_LINE.match(line) or _GREETING_IN_LINE.search(line)
        if m:
            return i, m
        seen += 1
        if seen >= GREETING_LINES:
            return None
    return None


def strip_greeting(text: str) -> str:
    """``text`` without its first greeting ("Hi Noah,") where it stands in the first lines."""
    found = _find_greeting(text)
    if not found:
        return text
    i, m = found
    lines = text.split("\n")
    lines[i] = lines[i][:m.start()] + (" " if m.start() else "") + lines[i][m.end():]
    return "\n".join(lines)


def greeted_names(text: str) -> list[str]:
    """The name a greeting in the first lines addresses ("Re: order\nHi Noah," gives Noah).

    Only a name closed by punctuation or the line end counts: "Hello Your order ..." names nobody.
    """
    found = _find_greeting(text)
    if not found or not found[1].group(1):
        return []
    i, m = found
    after = text.split("\n")[i][m.end(1):].lstrip(" \t")
    return [m.group(1)] if (not after or after[0] in ",!.:") and m.group(1) not in NOT_NAMES else []


def cut(text: str, limit: int = SHOWN_CHARS) -> str:
    """At most ``limit`` characters (at a word boundary where one is near), marked "(cut)" when cut."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    if not text[limit].isspace():  # mid-word: back up to the last space, if one is near
        space = max(head.rfind(" ", max(0, limit - 200)), head.rfind("\n", max(0, limit - 200)))
        head = head[:space] if space > 0 else head
    return head.rstrip() + CUT_MARK


def strip_tells(text: str, names: frozenset[str] = frozenset()) -> str:
    """``text`` without greeting, formulas, self-references, signature and agent ``names``."""
    body, _ = _split_signature(text, names)
    body = strip_greeting(body)
    lines = []
    for line in body.split("\n"):
        kept = [s for s in _SENTENCE_END.split(line.strip()) if s and _keep_sentence(s)]
        if kept:
            lines.append(" ".join(kept))
    out = _mask_names("\n".join(lines).strip(), names)
    return out or EMPTY


def learn_agent_names(agent_texts: Iterable[str], min_count: int = 2) -> frozenset[str]:
    """Capitalised words that sign historical agent answers at least ``min_count`` times.

    Learned from the data rather than configured: helpdesk exports rarely list agent names,
    but the agents sign their answers.
    """
    counts: Counter[str] = Counter()
    for text in agent_texts:
        _, parts = _split_signature(text, frozenset())
        for part in parts:
            counts.update(w for w in _words(part) if w[0].isupper() and w.lower() not in _TEAM_WORDS)
    return frozenset(w for w, n in counts.items() if n >= min_count and len(w) > 1)


def item_agent_texts(items: Iterable[Item]) -> Iterator[str]:
    """Every text a historical agent wrote: human answers and agent turns of the context."""
    for item in items:
        yield item.human.text
        yield from (t.text for t in item.context if t.role == "agent")


@dataclass(frozen=True)
class Presented:
    """An item as a reviewer sees it: redacted context and the two answers by source."""

    context: tuple[tuple[str, str], ...]
    human: str
    ai: str


def present(item: Item, names: frozenset[str], strip: bool = True) -> Presented:
    """Redact personal data everywhere; with ``strip``, remove source tells the same way on both sides.

    Customer turns keep their wording (only names are masked); agent turns and both answers are
    stripped, since earlier agent turns carry the same signatures as the human answer. The
    customer's own name, where the conversation reveals it (also a greeting after a prefix), is
    masked in every text. Every text is cut at ``SHOWN_CHARS`` last, after redaction, so a cut
    never splits personal data out of a redactor's reach.
    """
    agent_texts = [t.text for t in item.context if t.role == "agent"] + [item.human.text, item.ai.text or ""]
    customer = customer_names((t.text for t in item.context if t.role == "customer"), agent_texts)
    customer += [n for text in agent_texts for n in greeted_names(text) if n not in customer]

    def agent(text: str) -> str:
        return cut(mask_names(strip_tells(redact(text), names) if strip else redact(text), customer))

    def other(text: str) -> str:
        return cut(mask_names(_mask_names(redact(text), names) if strip else redact(text), customer))

    context = tuple((t.role, agent(t.text) if t.role == "agent" else other(t.text)) for t in item.context)
    return Presented(context, agent(item.human.text), agent(item.ai.text or ""))


class BlindingAudit(BaseModel):
    auc_before: float | None
    auc_after: float | None
    folds: int
    items: int
    threshold: float = AUC_WARNING
    warning: str | None = None
    ai_features_after: list[str] = []
    human_features_after: list[str] = []
    method: str = ("scikit-learn TF-IDF (word 1-2 grams, sublinear tf) + logistic regression; "
                   "AUC of AI vs human, stratified group k-fold with both answers of an item in one fold")


def _classifier():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2),
        LogisticRegression(max_iter=1000),
    )


def source_auc(pairs: Sequence[tuple[str, str]], folds: int, seed: int) -> float | None:
    """Cross-validated AUC of telling AI from human; ``pairs`` are (human, ai) per item.

    None when there are fewer items than folds (no honest estimate possible).
    """
    from sklearn.model_selection import StratifiedGroupKFold, cross_val_score

    if len(pairs) < folds:
        return None
    texts = [t for pair in pairs for t in pair]
    labels = np.tile([0, 1], len(pairs))
    groups = np.repeat(np.arange(len(pairs)), 2)
    cv = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = cross_val_score(_classifier(), texts, labels, groups=groups, cv=cv, scoring="roc_auc")
    return float(np.mean(scores))


def _top_features(pairs: Sequence[tuple[str, str]], n: int) -> tuple[list[str], list[str]]:
    """The n-grams that most point to AI and to human: where to look when the audit warns."""
    model = _classifier()
    try:
        model.fit([t for pair in pairs for t in pair], np.tile([0, 1], len(pairs)))
    except ValueError:
        return [], []
    vocab = model[0].get_feature_names_out()
    order = np.argsort(model[1].coef_[0])
    return [str(vocab[i]) for i in order[::-1][:n]], [str(vocab[i]) for i in order[:n]]


def audit_blinding(
    before: Sequence[tuple[str, str]], after: Sequence[tuple[str, str]], rng: np.random.Generator,
    folds: int = 5,
) -> BlindingAudit:
    """AUC on redacted-only texts (``before``) and on the texts reviewers get (``after``)."""
    seed = int(rng.integers(0, 2**31 - 1))
    auc_before = source_auc(before, folds, seed)
    auc_after = source_auc(after, folds, seed)
    ai_top, human_top = _top_features(after, 10) if len(after) >= folds else ([], [])
    warning = None
    if auc_after is None:
        warning = f"only {len(after)} items: too few for a {folds}-fold audit, blinding not checked"
    elif auc_after > AUC_WARNING:
        warning = (f"a classifier tells AI from human with AUC {auc_after:.2f} (> {AUC_WARNING}) on the "
                   f"texts reviewers see; strongest AI cues: {', '.join(ai_top[:5])}")
    return BlindingAudit(
        auc_before=auc_before, auc_after=auc_after, folds=folds, items=len(after), warning=warning,
        ai_features_after=ai_top, human_features_after=human_top,
    )
