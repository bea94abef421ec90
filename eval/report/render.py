"""The jinja2 environment both renderers share: templates, number filters and plain-word tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from eval.report import words

TEMPLATES = Path(__file__).with_name("templates")


def _fmt(value: Any, kind: str) -> str:
    return words.FORMATS[kind](value)


def _reason(reasons: list[Any], gate: str) -> Any:
    return next((r for r in reasons if r.gate == gate), None)


def environment() -> Environment:
    """HTML templates autoescape; Markdown ones do not (their text is plain, not markup)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, keep_trailing_newline=True,
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        trim_blocks=True, lstrip_blocks=True,
    )
    env.filters.update(fmt=_fmt, gate_value=words.gate_value)
    env.globals.update(
        TIER_LABEL=words.TIER_LABEL, TIER_MEANING=words.TIER_MEANING, GATE_LABEL=words.GATE_LABEL,
        category_name=words.category_name, plural=words.plural, reason=_reason, DASH=words.DASH,
        CAVEATS=words.CAVEATS,
    )
    return env
