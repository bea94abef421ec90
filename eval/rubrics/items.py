"""Reading items.jsonl lines for scoring: plain JSON with a pydantic fallback.

Validating every line as an ``Item`` model would spend much of the scoring time building the
context turns again. A line whose fields all have exactly the types ``Item`` declares is read
with pydantic's JSON parser (faster than ``json.loads``) into the few
plain fields the criteria use; any other line (wrong or missing field, coercible value, usage
figures) goes through ``Item`` itself, which either accepts it or raises the usual error naming
the file, line and field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pydantic_core import from_json

from eval.records import Item
from eval.store import parse_line

_ROLES = frozenset({"customer", "agent", "system", "note"})


class _Unusual(ValueError):
    """The line needs the full model: pydantic decides whether it is valid."""


@dataclass(frozen=True, slots=True)
class TurnView:
    role: str
    text: str


class _Said(Protocol):
    @property
    def text(self) -> str: ...


class _Answered(Protocol):
    @property
    def text(self) -> str | None: ...

    @property
    def error(self) -> str | None: ...


class _Turn(Protocol):
    @property
    def role(self) -> str: ...

    @property
    def text(self) -> str: ...


@dataclass(frozen=True, slots=True)
class SaidView:
    text: str


@dataclass(frozen=True, slots=True)
class AnswerView:
    text: str | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ItemLine:
    """The fields of an item that scoring reads (``score_item`` accepts it in place of an ``Item``)."""

    item_id: str
    category: str
    context: tuple[_Turn, ...]
    human: _Said
    ai: _Answered
    metadata: dict[str, Any]


class Scorable(Protocol):
    """The one shape scoring takes: the fields of an item it reads. An ``Item`` has them, and so
    has an ``ItemLine`` (read from a line, or built from turns replay just answered)."""

    @property
    def item_id(self) -> str: ...

    @property
    def category(self) -> str: ...

    @property
    def context(self) -> Sequence[_Turn]: ...

    @property
    def human(self) -> _Said: ...

    @property
    def ai(self) -> _Answered: ...

    @property
    def metadata(self) -> Mapping[str, Any]: ...


def _str(value: Any, optional: bool = False) -> Any:
    if isinstance(value, str) or (optional and value is None):
        return value
    raise _Unusual


def _turn(raw: Any) -> TurnView:
    if type(raw) is not dict or raw.get("role") not in _ROLES:
        raise _Unusual
    text = _str(raw.get("text"))
    if not text.strip():
        raise _Unusual
    _str(raw.get("author"), optional=True)
    return TurnView(raw["role"], text)


def _number(value: Any) -> None:
    if value is not None and (type(value) not in (int, float)):
        raise _Unusual


def _view(line: bytes) -> ItemLine:
    raw = from_json(line)
    if type(raw) is not dict or type(raw.get("turn_index")) is not int:
        raise _Unusual
    _str(raw.get("ticket_id"))
    human, ai, metadata = raw.get("human"), raw.get("ai"), raw.get("metadata", {})
    if type(human) is not dict or type(ai) is not dict or type(metadata) is not dict or ai.get("usage") is not None:
        raise _Unusual
    _str(human.get("author"), optional=True)
    _str(ai.get("responder"))
    _str(ai.get("model"), optional=True)
    _number(ai.get("latency_ms"))
    context = raw.get("context")
    if type(context) is not list:
        raise _Unusual
    return ItemLine(
        item_id=_str(raw.get("item_id")), category=_str(raw.get("category")),
        context=tuple(_turn(t) for t in context),
        human=SaidView(_str(human.get("text"))),
        ai=AnswerView(_str(ai.get("text"), optional=True), _str(ai.get("error"), optional=True)),
        metadata=metadata,
    )


def read_item(path: Path | str, lineno: int, line: bytes) -> ItemLine | Item:
    """One items.jsonl line, light when it is plainly valid, else as validated by ``Item``."""
    try:
        return _view(line)
    except (ValueError, TypeError):  # _Unusual, bad JSON, or an unhashable role
        return parse_line(path, lineno, line, Item)
