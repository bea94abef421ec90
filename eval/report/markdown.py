"""``report.md``: the same report as Markdown, figures linked as PNG files next to it.

Text from tickets and answers (and from the data's category names, ids and reviewer names) is
untrusted: a customer message holding ``<script>`` or ``![x](http://evil/x.png)`` must come out
as text in every Markdown viewer, also the ones that render HTML. The ``md`` filter makes any
such value inert, see ``md_text``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.report.content import Report
from eval.report.figures import FigureFile
from eval.report.render import environment
from eval.report.words import ESTIMATE_ROWS

_URL = re.compile(r"(?i)(?:\b[a-z][a-z0-9+.-]*://|\b(?:javascript|vbscript|data|mailto|file):|\bwww\.)\S+")
"""Scheme-like tokens, which GFM viewers would turn into links even without Markdown syntax."""
_INLINE = re.compile(r"([\\`*_\[\]|~])")
"""Backslash, code, emphasis, link/image brackets, table pipes, strike-through: escaped anywhere."""
_LINE_START = re.compile(r"^(?:([#+\-=])|(\d+)([.)]))")
"""Headings, list markers, setext underlines, ordered lists: escaped where a line begins."""
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def _code_span(token: str) -> str:
    """``token`` as a code span: shown literally, never a link, whatever backticks it holds."""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", token)), default=0) + 1)
    pad = " " if token.startswith("`") or token.endswith("`") else ""
    return f"{fence}{pad}{token}{pad}{fence}"


def _escape_text(text: str) -> str:
    text = "".join(_HTML.get(ch, ch) for ch in text)
    return _INLINE.sub(r"\\\1", text)


def md_text(value: Any) -> str:
    """``value`` as one line of inert Markdown text.

    HTML-escapes ``& < >`` (no tag, comment or entity survives), backslash-escapes the
    characters that open links, images, code and emphasis, puts URL-like tokens in code spans
    (GFM autolinks bare ``http://`` and ``www.``), and escapes block markers at the line start.
    Newlines become spaces: callers that keep lines (the quote macro) pass one line at a time.
    """
    text = " ".join(str("" if value is None else value).split("\n")).strip()
    parts, pos = [], 0
    for m in _URL.finditer(text):
        parts += [_escape_text(text[pos:m.start()]), _code_span(m.group())]
        pos = m.end()
    parts.append(_escape_text(text[pos:]))
    out = "".join(parts)
    return _LINE_START.sub(lambda m: f"\\{m.group(1)}" if m.group(1) else f"{m.group(2)}\\{m.group(3)}", out)


def render_markdown(report: Report, figures: Sequence[FigureFile], run_dir: Path) -> str:
    figs = {f.name: {"title": f.title, "alt": f.alt, "src": f.png.relative_to(run_dir).as_posix()} for f in figures}
    env = environment()
    env.filters["md"] = md_text
    return env.get_template("report.md.j2").render(r=report, figs=figs, estimate_rows=ESTIMATE_ROWS)
