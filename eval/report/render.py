"""The jinja2 environment both renderers share: templates, number filters and plain-word tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from eval.report.words import (
    CAVEATS,
    DASH,
    FORMATS,
    GATE_LABEL,
    TIER_LABEL,
    TIER_MEANING,
    category_name,
    gate_value,
    plural,
)

TEMPLATES = Path(__file__).with_name("templates")


def _fmt(value: Any, kind: str) -> str:
    return FORMATS[kind](value)


def _reason(reasons: list[Any], gate: str) -> Any:
    return next((r for r in reasons if r.gate == gate), None)


def environment() -> Environment:
    """HTML templates autoescape; Markdown ones do not (their text is plain, not markup)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, keep_trailing_newline=True,
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        trim_blocks=True, lstrip_blocks=True,
    )
    env.filters.update(fmt=_fmt, gate_value=gate_value)
    env.globals.update(
        TIER_LABEL=TIER_LABEL, TIER_MEANING=TIER_MEANING, GATE_LABEL=GATE_LABEL,
        category_name=category_name, plural=plural, reason=_reason, DASH=DASH, CAVEATS=CAVEATS,
    )
    return env
