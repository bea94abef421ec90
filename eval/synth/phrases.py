"""Wording banks, entities (names, PII, ids) and the seeded dice that pick among them."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import yaml


@lru_cache(maxsize=1)
def bank() -> dict[str, Any]:
    """The wording banks (``phrases.yaml`` next to this module), loaded once per process."""
    text = resources.files(__package__).joinpath("phrases.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


class Dice:
    """Uniforms drawn from a seeded Generator in blocks.

    Generating text needs dozens of small random choices per ticket; one numpy call per
    scalar would dominate the run time, so uniforms are drawn 4,096 at a time and consumed
    in order (still fully determined by the seed).
    """

    _BLOCK = 4096

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self._u: list[float] = []
        self._i = 0
        self._z: list[float] = []
        self._j = 0

    def u(self) -> float:
        if self._i >= len(self._u):
            self._u = self.rng.random(self._BLOCK).tolist()
            self._i = 0
        self._i += 1
        return self._u[self._i - 1]

    def normal(self, mean: float = 0.0, sd: float = 1.0) -> float:
        if self._j >= len(self._z):
            self._z = self.rng.standard_normal(self._BLOCK).tolist()
            self._j = 0
        self._j += 1
        return mean + sd * self._z[self._j - 1]

    def chance(self, p: float) -> bool:
        return self.u() < p

    def pick(self, seq: Sequence[Any]) -> Any:
        return seq[int(self.u() * len(seq))]

    def weighted(self, items: Sequence[Any], weights: Sequence[float]) -> Any:
        x = self.u() * sum(weights)
        for item, w in zip(items, weights):
            x -= w
            if x < 0:
                return item
        return items[-1]

    def integer(self, low: int, high: int) -> int:
        """Uniform integer in [low, high]."""
        return low + int(self.u() * (high - low + 1))


def luhn_complete(digits: str) -> str:
    """Append the Luhn check digit, so redaction tests meet card numbers that validate."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return digits + str((10 - total % 10) % 10)


def _digits(dice: Dice, n: int) -> str:
    return f"{int(dice.u() * 10 ** n):0{n}d}"


def entities(dice: Dice, ticket_no: int, date: str) -> dict[str, str]:
    """The people, ids and PII one ticket talks about."""
    names = bank()["names"]
    first, last = dice.pick(names["first"]), dice.pick(names["last"])
    prefix = dice.pick(["4", "51", "37"])
    length = 15 if prefix == "37" else 16
    card = luhn_complete(prefix + _digits(dice, length - 1 - len(prefix)))
    shown = " ".join(card[i:i + 4] for i in range(0, length, 4)) if dice.chance(0.5) else card
    handle = f"{first}.{last}".lower() if dice.chance(0.6) else f"{first[0]}{last}{dice.integer(1, 99)}".lower()
    return {
        "first": first, "name": f"{first} {last}",
        "email": f"{_ascii(handle)}@{dice.pick(names['domains'])}",
        "phone": dice.pick(["+44 7{0} {1} {2}", "+1 ({0}) {1}-{2}", "+49 15{0} {1}{2}", "07{0} {1} {2}"]).format(
            _digits(dice, 3), _digits(dice, 3), _digits(dice, 4)),
        "last4": card[-4:], "card": shown,
        "order_id": f"A-{ticket_no % 900_000 + 100_000}-{_digits(dice, 2)}",
        "amount": dice.pick(["${0}.{1}", "£{0}.{1}", "€{0},{1}", "{0}.{1} EUR"]).format(
            dice.integer(5, 480), _digits(dice, 2)),
        "date": date,
        "product": dice.pick(bank()["products"]), "plan": dice.pick(bank()["plans"]),
        "carrier": dice.pick(bank()["carriers"]),
        "tracking": f"1Z{_digits(dice, 10)}", "ref": f"CS-{_digits(dice, 6)}",
        "relation": dice.pick(bank()["relations"]),
        "deceased": f"{dice.pick(names['first'])} {last}",
        "agent": dice.pick(names["agents"]),
    }


_ASCII = str.maketrans("áéíóúüñçöäå", "aeiouuncoaa")


def _ascii(s: str) -> str:
    return s.translate(_ASCII)


def fill(template: str, ents: dict[str, str]) -> str:
    return template.format_map(ents)


_NEIGHBOUR = {"a": "s", "e": "r", "i": "o", "o": "i", "n": "m", "t": "r", "s": "a", "r": "e", "h": "j"}


def typos(dice: Dice, text: str, rate: float) -> str:
    """Customers type fast: swap, drop or double letters in some words, lower-case some starts."""
    words = text.split(" ")
    for k, w in enumerate(words):
        if len(w) < 4 or not dice.chance(rate) or not w.isalpha():
            continue
        i = dice.integer(1, len(w) - 2)
        kind = dice.u()
        if kind < 0.35:
            w = w[:i] + w[i + 1] + w[i] + w[i + 2:]
        elif kind < 0.6:
            w = w[:i] + w[i + 1:]
        elif kind < 0.8:
            w = w[:i] + w[i] + w[i:]
        else:
            w = w[:i] + _NEIGHBOUR.get(w[i], w[i]) + w[i + 1:]
        words[k] = w
    out = " ".join(words)
    if out and dice.chance(rate * 2):
        out = out[0].lower() + out[1:]
    return out
