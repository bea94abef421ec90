"""Personal data in free text: emails, phone numbers, card numbers, IBANs and street addresses.

Written here rather than taken from a library: the NER-based scrubbers (presidio, scrubadub)
are heavy and slow for millions of answers, and the checks we need are small and closed-form
(Luhn for cards, ISO 7064 mod 97 for IBANs). Checksums keep random digit runs (order numbers,
amounts) from being taken for card numbers or IBANs.

Phone numbers have no checksum, so a phone needs phone-like structure: an international prefix,
a bracketed area code, or at least two separators between digit groups. A bare run of digits
is more often an order or tracking number than a phone number and is not reported.

Street addresses have no checksum either: an address is a house number next to one to four
capitalised words ending in a street type ("221B Baker Street", "1600 Pennsylvania Ave NW",
"Hauptstraße 12"), with an optional unit ("Apt 4B"). A bare number or a street name without
a house number is not reported.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

PiiKind = Literal["email", "phone", "card", "iban", "address"]

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,32}\b", re.IGNORECASE)
_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")
_PHONE = re.compile(
    r"(?<![\w+])(?<!\d[ .-])(?:(?:\+|00)\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?"
    r"\d(?:[ .-]?\d){5,14}(?!\w)(?![ .-]\d)"
)
_STREET_TYPE = (
    r"(?:Street|St|Avenue|Ave|Road|Rd|Lane|Ln|Drive|Dr|Boulevard|Blvd|Court|Ct|Place|Pl|Square|Sq"
    r"|Terrace|Crescent|Close|Parkway|Pkwy|Highway|Hwy|Way|Row|Mews|Gardens|Grove)\.?"
)
_UNIT = r"(?:,?\s+(?:Apt|Apartment|Suite|Unit|Flat|Floor|#)\.?\s*[A-Za-z0-9-]+)?"
_ADDRESS = re.compile(
    rf"\b\d{{1,5}}[A-Za-z]?,?\s+(?:[A-Z][\w'’-]*\s+){{1,4}}{_STREET_TYPE}"
    rf"(?:\s+(?:N|S|E|W|NE|NW|SE|SW)\b)?{_UNIT}(?![\w])"
    rf"|\b[A-ZÄÖÜ][\wäöüß-]*(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm)\s+\d{{1,4}}[a-z]?\b"
)
_DATE = re.compile(r"\d{4}[-.]\d{1,2}[-.]\d{1,2}|\d{1,2}[-.]\d{1,2}[-.]\d{4}")
_DIGIT = re.compile(r"\d")
_PHONE_KEY_DIGITS = 9
"""Phones compare on their last 9 digits: the same number is written with or without country code."""


@dataclass(frozen=True)
class PiiSpan:
    kind: PiiKind
    start: int
    end: int
    text: str

    @property
    def key(self) -> str:
        """The value with formatting removed, so two spellings of one number compare equal."""
        if self.kind == "email":
            return self.text.lower()
        if self.kind == "iban":
            return self.text.replace(" ", "").upper()
        if self.kind == "address":
            return " ".join(self.text.lower().replace(",", " ").replace(".", " ").split())
        digits = "".join(c for c in self.text if c.isdigit())
        return digits[-_PHONE_KEY_DIGITS:] if self.kind == "phone" else digits


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check every payment card number carries."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """ISO 13616 check digits (mod 97 == 1) on the compact form."""
    compact = iban.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _emails(text: str) -> list[PiiSpan]:
    if "@" not in text:
        return []
    return [PiiSpan("email", m.start(), m.end(), m.group()) for m in _EMAIL.finditer(text)]


def _ibans(text: str) -> list[PiiSpan]:
    """A candidate may run into following words; drop trailing tokens until the checksum holds."""
    spans = []
    for m in _IBAN.finditer(text):
        tokens = m.group().split(" ")
        for n in range(len(tokens), 0, -1):
            candidate = " ".join(tokens[:n])
            if iban_valid(candidate):
                spans.append(PiiSpan("iban", m.start(), m.start() + len(candidate), candidate))
                break
    return spans


def _cards(text: str) -> list[PiiSpan]:
    return [
        PiiSpan("card", m.start(), m.end(), m.group())
        for m in _CARD.finditer(text)
        if luhn_valid(m.group().replace(" ", "").replace("-", ""))
    ]


def _looks_like_phone(candidate: str) -> bool:
    digits = sum(c.isdigit() for c in candidate)
    if not 7 <= digits <= 15 or _DATE.fullmatch(candidate):
        return False
    if candidate.startswith(("+", "00", "(")):
        return True
    return sum(c in " .-" for c in candidate) >= 2


def _phones(text: str) -> list[PiiSpan]:
    return [
        PiiSpan("phone", m.start(), m.end(), m.group())
        for m in _PHONE.finditer(text)
        if _looks_like_phone(m.group())
    ]


def _addresses(text: str) -> list[PiiSpan]:
    return [PiiSpan("address", m.start(), m.end(), m.group()) for m in _ADDRESS.finditer(text)]


def find_pii(text: str) -> list[PiiSpan]:
    """Non-overlapping spans in text order; on overlap the checksum-backed kind wins over a phone."""
    found = _emails(text)
    if _DIGIT.search(text):
        for finder in (_ibans, _cards, _addresses, _phones):
            for span in finder(text):
                if not any(span.start < kept.end and kept.start < span.end for kept in found):
                    found.append(span)
    return sorted(found, key=lambda s: s.start)


def _placeholder(span: PiiSpan) -> str:
    return f"[{span.kind.upper()}]"


def redact(text: str, mask: Callable[[PiiSpan], str] = _placeholder) -> str:
    """``text`` with every span from ``find_pii`` replaced by ``mask(span)`` (default ``[EMAIL]`` etc.)."""
    parts, pos = [], 0
    for span in find_pii(text):
        parts.append(text[pos:span.start])
        parts.append(mask(span))
        pos = span.end
    parts.append(text[pos:])
    return "".join(parts)


# --- customer names -------------------------------------------------------------------------
# Names have no checksum or shape, so only names the conversation itself reveals are masked: the
# customer introducing or signing themselves, and an agent greeting them by name.

NAME = r"[A-Z\u00C0-\u00DE][a-z\u00DF-\u00FF]+(?:-[A-Z\u00C0-\u00DE][a-z\u00DF-\u00FF]+)?"
CLOSING = (
    r"(?i:best\s+regards|kind\s+regards|warm\s+regards|many\s+thanks|thank\s+you|all\s+the\s+best"
    r"|best|regards|thanks|cheers|sincerely)"
)
CUSTOMER_NAME_PATTERNS = (
    re.compile(rf"(?i:\bmy\s+name\s+is)\s+({NAME})"),
    re.compile(rf"(?i:\b(?:i'm|i\s+am|this\s+is))\s+({NAME})(?=\s*(?:[.,!]|$))"),
    re.compile(rf"\b{CLOSING}[,!.]?\s*[-\u2013]?\s*({NAME})\s*[.!]?\s*$"),
    re.compile(rf"(?i:\bmy\s+(?:late\s+)?(?:mother|mum|mom|father|dad|hus\w*|wife|partner|son|daughter"
               rf"|brother|sister|grand\w+|aunt|uncle)),?\s+({NAME})\b"),
    re.compile(rf"\bof\s+({NAME})\s+{NAME},?\s+(?i:who)\b"),
)
"""How a customer names themselves ("my name is X", "I'm X.", a sign-off "Thanks, X") or a
relative they write about ("my mother X", "the plan of X Y, who passed away")."""
GREETED_NAME = re.compile(rf"^\s*(?i:hi|hello|hey|dear|good\s+(?:morning|afternoon|evening))\s+({NAME})\b")
HOLDER_NAME = re.compile(rf"\b({NAME})(?:\s+{NAME})?['’]s\s+(?:account|order|card|subscription|plan)\b")
"""An account holder an answer names ("Chen Khan's account"), e.g. a deceased relative's."""
NOT_NAMES = frozenset({"Again", "All", "Everyone", "Support", "Team", "Urgent", "Sorry", "Here", "There",
                       "Customer", "Customers", "Sir", "Madam", "Friend", "Folks", "Valued"})
"""Words a greeting addresses that are not a person ("Dear Customer,", "Hi Team,")."""


def customer_names(customer_texts: Iterable[str], agent_texts: Iterable[str] = ()) -> list[str]:
    """First names the customer gave, then names agents greeted them with or named as account holders."""
    found = [m.group(1) for text in customer_texts for pattern in CUSTOMER_NAME_PATTERNS
             for m in pattern.finditer(text)]
    agent_texts = list(agent_texts)
    found += [m.group(1) for text in agent_texts if (m := GREETED_NAME.match(text))]
    found += [m.group(1) for text in agent_texts for m in HOLDER_NAME.finditer(text)]
    return [n for n in dict.fromkeys(found) if n not in NOT_NAMES]


def mask_names(text: str, names: Iterable[str], placeholder: str = "[NAME]") -> str:
    """Each name, with a capitalised surname right after it, replaced by ``placeholder``."""
    names = sorted(set(names), key=len, reverse=True)
    if not names:
        return text
    pattern = rf"\b(?:{'|'.join(re.escape(n) for n in names)})\b(?:\s+{NAME}(?=['’]s\b|\b))?"
    return re.sub(pattern, placeholder, text)
