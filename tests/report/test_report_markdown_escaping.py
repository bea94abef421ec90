"""report.md with hostile ticket text: nothing from a ticket or answer becomes live HTML, a link or an image."""

from __future__ import annotations

import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from eval.records import Item
from eval.report import write_report
from eval.report.markdown import md_text
from eval.store import read_jsonl, write_jsonl

DEMO = Path(__file__).parents[2] / "datasets" / "demo" / "config.yaml"
HOSTILE = ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "[click](javascript:alert(1))",
           "![x](http://evil/x.png)")


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))


def tags_of(html: str) -> list[tuple[str, dict[str, str]]]:
    parser = Tags()
    parser.feed(html)
    return parser.tags


def _live(html: str) -> list[str]:
    """Every tag or attribute in rendered HTML that could run script or fetch from elsewhere."""
    bad = []
    for tag, attrs in tags_of(html):
        if tag in ("script", "iframe", "object", "embed", "style"):
            bad.append(tag)
        bad += [f"{tag} {k}" for k in attrs if k.startswith("on")]
        bad += [f"{tag} href={v}" for k, v in attrs.items() if k == "href" and not v.startswith(("#", "figures/"))]
        if tag == "img" and not attrs.get("src", "").startswith("figures/"):
            bad.append(f"img src={attrs.get('src')}")
    return bad


def _render(md: str) -> str:
    """CommonMark with raw HTML on (as in viewers that render it), GFM tables and strike-through, and no
    URL filter: markdown-it drops ``javascript:`` links by itself, a permissive viewer does not."""
    parser = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    parser.validateLink = lambda url: True
    return parser.render(md)


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo run with hostile text in every customer message, AI answer and human answer."""
    out = tmp_path_factory.mktemp("hostile") / "run"
    res = subprocess.run([sys.executable, "-m", "eval", "run", str(DEMO), "--out", str(out)],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    payload = "\n".join(HOSTILE)
    items = []
    for item in read_jsonl(out / "items.jsonl", Item):
        context = [t.model_copy(update={"text": f"{t.text}\n{payload}"}) if t.role == "customer" else t
                   for t in item.context]
        items.append(item.model_copy(update={
            "context": context,
            "human": item.human.model_copy(update={"text": f"{item.human.text}\n{payload}"}),
            "ai": item.ai.model_copy(update={"text": f"{item.ai.text or ''}\n{payload}"}),
        }))
    write_jsonl(out / "items.jsonl", items)
    write_report(out)
    return out


def test_hostile_ticket_text_is_inert_in_report_md(hostile_run: Path) -> None:
    md = (hostile_run / "report.md").read_text(encoding="utf-8")
    assert md.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3, "the hostile text must reach the examples"
    for raw in HOSTILE:
        assert raw not in md
    assert "<script" not in md and "<img" not in md
    html = _render(md)
    assert _live(html) == []
    assert "javascript:" not in " ".join(v for _, a in tags_of(html) for k, v in a.items() if k == "href")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, "shown as text, not dropped"


def test_the_figures_stay_images_and_the_tables_stay_tables(hostile_run: Path) -> None:
    html = _render((hostile_run / "report.md").read_text(encoding="utf-8"))
    imgs = [a["src"] for t, a in tags_of(html) if t == "img"]
    assert len(imgs) == 4 and all(src.startswith("figures/") for src in imgs)
    assert "<h3>" in html and "<blockquote>" in html


@pytest.mark.parametrize("text", [
    *HOSTILE, "<!-- x --><a href='javascript:alert(1)'>y</a>", "&#106;avascript:alert(1)", "<https://evil/x>",
    "see www.evil.example/x and https://evil.example/p.png", "[x]: javascript:alert(1)\n[click][x]",
    "`code` and ``double`` [a](b)", "a | b | c", "# heading", "1. list", "- item", "---", "===",
    "\\[click](javascript:alert(1))", "*[x](javascript:alert(1))*", "![](data:image/png;base64,AAAA)",
])
def test_md_text_leaves_no_link_image_or_html(text: str) -> None:
    for line in text.split("\n"):
        shown = md_text(line)
        html = _render(f"> {shown}\n")
        assert _live(html) == [], (line, shown, html)
        assert "<a " not in html and "<img" not in html and "<h1>" not in html and "<ol>" not in html, html
        assert "<ul>" not in html and "<hr" not in html and "<table" not in html


def test_plain_text_reads_back_unchanged_after_rendering() -> None:
    text = "Order A-1234 ships in 5-10 days (not 3) - Agent_7 said: refund 20 EUR & keep the *old* card!"
    html = _render(f"{md_text(text)}\n")
    parser = _Text()
    parser.feed(html)
    assert "".join(parser.chunks).strip() == text


def test_a_table_cell_with_pipes_and_newlines_stays_one_cell() -> None:
    html = _render(f"| category | tier |\n|---|---|\n| {md_text('a | b' + chr(10) + 'c')} | human |\n")
    assert "<td>a | b c</td>" in html and html.count("<td>") == 2


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[str] = []

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)
