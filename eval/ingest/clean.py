"""Text cleaning shared by the helpdesk adapters (Zendesk, Intercom, Freshdesk, CSV of messages).

A replayed message must read as what its author wrote this time: no markup, no earlier replies quoted
under it, no signature. Otherwise the judge compares AI answers with human ones padded by quotes and
signatures, and every later message of a thread repeats the earlier ones. One module, so every adapter
cleans the same way.

Speed, measured on this machine (2 cores shared with other work, CPU time per message, short messages of
~210 characters of HTML or ~150 of plain text, runs of 20k to 250k messages): clean_message takes 80-200 µs per
HTML message (html_to_text 55-140 µs of it, the quote and signature rules ~20 µs; the spread is the machine's
load, not the text) and 25-40 µs per plain-text e-mail. So 500k short HTML messages take 40-100 s on one core.
"""

# Why these libraries (licences read from the wheels' METADATA):
# - HTML to text: resiliparse 2.0 (Apache-2.0; brings fastwarc, Apache-2.0, and brotli, MIT; fastwarc's click and
#   tqdm come with typer and datasets already). A compiled HTML parser (lexbor) with a text extractor that lays out
#   text as a browser does: <br><br> stays a blank line, <pre> keeps its spaces, "<b>bold</b>text" gets no stray
#   space, nesting thousands deep loses nothing. Same messages, same run: html_to_text 56 µs; inscriptis 2.7
#   (Apache-2.0) alone 110 µs (pure Python; it also drops all text nested deeper than 256 elements unless the tree
#   is parsed by hand); html-text 0.7 (MIT) 81 µs, and it folds <br><br> into one line break, so the paragraphs of
#   Intercom and e-mail HTML are lost. BeautifulSoup's get_text has no layout (each text node on its own line) and
#   took ~4x html-text's time in a first test. html2text is GPL.
# - Quotes and signatures: written here. mail-parser-reply 1.36 (MIT) was tried: it misses Spanish one-line
#   attributions ("… escribió:") and French ones with a no-break space before the colon, strips every line's
#   indentation, and its signature rule cuts the message at a "Thanks," or a "- item" line anywhere in it.
#   email-reply-parser (MIT) knows English only.

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import ElementNode, HTMLTree

__all__ = ["attachment_line", "clean_message", "html_to_text", "strip_quoted", "strip_signature"]

# ---------------------------------------------------------------- characters and layout

_CHARS = str.maketrans(
    {**dict.fromkeys("\u00a0\u2007\u202f\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2008\u2009\u200a\u3000", " "),
     **dict.fromkeys("\u200b\u200c\u200d\u2060\ufeff")}  # zero-width characters, the byte-order mark among them
)
_TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)
_BLANK_RUN = re.compile(r"\n(?:[ \t]*\n)+")


def _normalise_chars(text: str) -> str:
    """\\r\\n and \\r to \\n, unusual spaces to a space, zero-width characters out."""
    return text.replace("\r\n", "\n").replace("\r", "\n").translate(_CHARS)


def _tidy(text: str) -> str:
    """Trailing spaces off, runs of blank lines to one, no blank lines at either end."""
    text = _BLANK_RUN.sub("\n\n", _TRAILING_SPACE.sub("", text))
    return text.strip("\n")


# ---------------------------------------------------------------- HTML

_EXTRACT: dict[str, Any] = {  # the whole page, laid out; no alt texts (images are "[image]"), no link targets
    "preserve_formatting": True, "main_content": False, "list_bullets": True, "alt_texts": False, "links": False,
    "form_fields": False, "noscript": False,
}


_IMG = re.compile(r"<img\b", re.IGNORECASE)
_SURROGATE = re.compile("[\ud800-\udfff]")


def _is_tracking_pixel(img: ElementNode) -> bool:
    return any((img.get_attribute(side) or "").strip() in ("0", "1") for side in ("width", "height"))


def html_to_text(html: str) -> str:
    """Plain text of ``html``: paragraphs and line breaks kept, list items as bulleted lines, links as their text,
    images as ``[image]`` (e-mail tracking pixels dropped), entities decoded, trailing spaces stripped, runs of
    blank lines collapsed to one."""
    if not html.strip():
        return ""
    try:
        tree = HTMLTree.parse(html)
    except UnicodeEncodeError:  # a lone surrogate (half an emoji, cut by an export): it becomes U+FFFD
        tree = HTMLTree.parse(_SURROGATE.sub("\ufffd", html))
    if tree.body is not None and _IMG.search(html):  # most messages have none: no DOM walk for them
        for img in list(tree.body.get_elements_by_tag_name("img")):  # a live list: copied before changing the tree
            marker = None if _is_tracking_pixel(img) else tree.create_text_node(" [image] ")
            if marker is None:
                img.remove()
            else:
                img.replace_with(marker)
    return _tidy(_normalise_chars(extract_plain_text(tree, **_EXTRACT)))


# ---------------------------------------------------------------- quoted replies

# An attribution line ends with ":" and names the date or the address; checked one line and two (Gmail wraps it).
_ATTRIBUTION = re.compile(
    r"(?:-+\s*)?(?:"
    r"On\s.{4,300}\swrote"  # en: Gmail, Apple Mail, Thunderbird, Outlook.com
    r"|Le\s.{4,300}\sa\s+écrit"  # fr
    r"|Am\s.{4,300}\sschrieb\s.{1,300}"  # de: "Am 03.03.2025 um 10:02 schrieb Jane <…>"
    r"|.{1,300}\sschrieb\s+am\s.{4,120}"  # de, Gmail's older form: "Jane <…> schrieb am Mo., 3. März 2025, 10:02"
    r"|El\s.{4,300}\sescribió"  # es
    r"|Il\s.{4,300}\sha\s+scritto"  # it
    r"|Op\s.{4,300}\sschreef(?:\s.{1,300})?"  # nl
    r"|Em\s.{4,300}\sescreveu"  # pt
    r"|.{1,200}<[^<>\s]+@[^<>\s]+>\)?\s+(?:wrote|a\s+écrit|schrieb|escribió|ha\s+scritto|schreef|escreveu)"
    r")\s*:?\s*-*",
    re.IGNORECASE,
)
_ORIGINAL_MESSAGE = re.compile(
    r"-{2,}\s*(?:original message|message d['’]origine|message original|ursprüngliche nachricht|originalnachricht"
    r"|mensaje original|messaggio originale|oorspronkelijk bericht|mensagem original)\s*-{2,}",
    re.IGNORECASE,
)
# Outlook's header block: "From:" then, within a few lines, "Sent:" or "Date:" and "To:" or "Subject:", any language.
_FIELDS = {
    "from": "from|de|von|da|van",
    "sent": "sent|date|envoyé|gesendet|datum|enviado|enviada|fecha|inviato|data|verzonden",
    "to": "to|à|a|an|para|aan|cc",
    "subject": "subject|objet|betreff|asunto|oggetto|onderwerp|assunto",
}
_FIELD = re.compile(
    r"\s*\*{0,2}(?:" + "|".join(f"(?P<{name}>{words})" for name, words in _FIELDS.items()) + r")\*{0,2}\s*:",
    re.IGNORECASE,
)
_WROTE = re.compile(r"\b(?:wrote|écrit|schrieb|escribió|scritto|schreef|escreveu)\b", re.IGNORECASE)
_SEPARATOR = re.compile(r"\s*(?:[_=*]{5,}|-{5,})\s*")
# An attribution names a time, a numeric date or an address: "On Monday my colleague wrote:" is the message.
_WHEN_OR_WHO = re.compile(r"\d{1,2}[:.h]\d{2}|\d{1,4}[./-]\d{1,2}[./-]\d{2,4}|@")


def _field(line: str) -> str | None:
    found = _FIELD.match(line)
    return found.lastgroup if found else None


def _is_attribution(line: str) -> bool:
    line = line.strip()
    return (
        line.rstrip("-").rstrip().endswith(":")
        and _WHEN_OR_WHO.search(line) is not None
        and _ATTRIBUTION.fullmatch(line) is not None
    )


def _is_header_block(lines: list[str], i: int) -> bool:
    if _field(lines[i]) != "from":
        return False
    seen = {_field(line) for line in lines[i + 1 : i + 6]}
    # Without a subject the sender must be an address: "From: London / Date: … / To: Paris" is a booking.
    return "sent" in seen and ("subject" in seen or ("to" in seen and "@" in lines[i]))


def _quote_start(lines: list[str]) -> int | None:
    """Index of the first line of the earliest quoted earlier message, if any."""
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped[0] == ">":
            continue
        if stripped[0] == "-" and _ORIGINAL_MESSAGE.fullmatch(stripped):
            return i
        if ":" in stripped and (_is_attribution(stripped) or _is_header_block(lines, i)):
            return i
        following = lines[i + 1].strip() if i + 1 < len(lines) else ""
        wrapped = following.rstrip("-").rstrip().endswith(":") and not _is_attribution(following)
        if wrapped and _is_attribution(f"{stripped} {following}"):  # Gmail wraps it over two lines
            return i
    return None


def _drop_quoted_lines(lines: list[str]) -> list[str]:
    """Lines starting with ">" out, and a "… wrote:" line right above such a block."""
    kept: list[str] = []
    for line in lines:
        if line.lstrip().startswith(">"):
            last = len(kept) - 1
            while last >= 0 and not kept[last].strip():
                last -= 1
            if last >= 0 and kept[last].rstrip().endswith(":") and _WROTE.search(kept[last]):
                del kept[last:]
            continue
        kept.append(line)
    return kept


def strip_quoted(text: str) -> str:
    """``text`` without the earlier messages quoted in it: from an attribution line ("On … wrote:", "Le … a écrit :",
    "Am … schrieb …:", "El … escribió:"), an Outlook header block (From/De/Von … Sent/Envoyé/Gesendet/Enviado …) or
    an "-----Original Message-----" line to the end, and every line starting with ">". A message that is nothing
    but a quote is returned whole: it is still what was sent."""
    lines = text.splitlines()
    start = _quote_start(lines)
    kept = _drop_quoted_lines(lines[:start] if start is not None else lines)
    if len(kept) == len(lines):
        return text
    while kept and (not kept[-1].strip() or _SEPARATOR.fullmatch(kept[-1])):
        kept.pop()
    return "\n".join(kept).rstrip() if kept else text


# ---------------------------------------------------------------- signatures

_SENT_FROM = re.compile(
    r"\s*(?:sent from (?:my|mail|outlook|yahoo|gmail|samsung|proton|aol)|get outlook for"
    r"|envoyé (?:de|depuis) (?:mon|ma|l['’]|outlook|yahoo)|obtenir outlook pour"
    r"|von meinem .{1,40} gesendet|gesendet (?:von|mit) (?:meinem|der|outlook)"
    r"|enviado (?:desde|de) (?:mi|outlook|yahoo)|obtener outlook para|enviado do meu|inviato da"
    r"|verzonden (?:vanaf|met) mijn|verstuurd vanaf mijn)\b.{0,80}",
    re.IGNORECASE,
)
_VALEDICTIONS = (
    # en
    "best regards", "kind regards", "warm regards", "warmest regards", "many regards", "regards", "best wishes", "best",
    "all the best", "many thanks", "thanks", "thank you", "thanks a lot", "thanks so much", "thank you so much",
    "thank you very much", "thanks in advance", "thank you in advance", "thanks again", "cheers", "sincerely",
    "yours sincerely", "yours truly", "yours faithfully", "take care", "with thanks", "respectfully",
    # fr
    "cordialement", "bien cordialement", "très cordialement", "bien à vous", "salutations", "sincères salutations",
    "meilleures salutations", "bonne journée", "bonne soirée", "merci", "merci beaucoup", "merci d'avance",
    "merci par avance", "merci encore", "amicalement", "bien amicalement", "à bientôt", "respectueusement",
    # de
    "mit freundlichen grüßen", "freundliche grüße", "beste grüße", "viele grüße", "liebe grüße", "herzliche grüße",
    "schöne grüße", "grüße", "gruß", "lg", "mfg", "vg", "danke", "vielen dank", "danke schön", "besten dank",
    "herzlichen dank",
    # es
    "saludos", "un saludo", "saludos cordiales", "un cordial saludo", "cordiales saludos", "atentamente",
    "cordialmente", "gracias", "muchas gracias", "gracias de antemano", "mil gracias", "un abrazo",
    # it, nl, pt
    "cordiali saluti", "distinti saluti", "saluti", "un saluto", "grazie", "grazie mille", "grazie in anticipo",
    "met vriendelijke groet", "met vriendelijke groeten", "vriendelijke groet", "groeten", "groetjes", "bedankt",
    "alvast bedankt", "dank je wel", "dank u wel", "mvg",
    "atenciosamente", "cumprimentos", "obrigado", "obrigada", "muito obrigado", "muito obrigada", "um abraço",
)


def _spelling(phrase: str) -> str:
    """A phrase as a pattern that also takes "ss" for "ß", "ue" for "ü" and a curly apostrophe."""
    return re.escape(phrase).replace("ß", "(?:ß|ss)").replace("ü", "(?:ü|ue)").replace("'", "['’]").replace(r"\ ", r"\s+")


_VALEDICTION = re.compile(
    r"\s*(?:" + "|".join(_spelling(v) for v in sorted(_VALEDICTIONS, key=len, reverse=True)) + r")(?!\w)"
    r"[\s,.;:!–—-]*(?P<rest>.*)",
    re.IGNORECASE,
)
_SIGNATURE_WINDOW = 20  # the "-- " delimiter counts only this near the end
_CLOSING_LINES = 4  # name, title, company, phone


def _is_valediction(line: str) -> bool:
    """"Thanks," "Best regards, Jane" "Cordialement" "Danke! 🙂", but not "Thanks, that fixed it"."""
    found = _VALEDICTION.fullmatch(line)
    if found is None:
        return False
    rest = found["rest"].strip()
    if not any(c.isalpha() for c in rest):
        return len(rest) <= 10
    words = rest.rstrip(".!").split()
    return len(rest) <= 40 and len(words) <= 4 and all(w[0].isupper() or not w[0].isalpha() for w in words)


def _is_signature_line(line: str) -> bool:
    """Short and not a sentence: a name, a title, a company, a phone number, an address."""
    line = line.strip()
    words = line.split()
    if len(line) > 72 or len(words) > 10 or line.endswith(("?", "!")) or line.lower().startswith(("p.s", "ps:", "ps ")):
        return False
    return not (line.endswith(".") and len(words) >= 4)


def _last_filled(lines: list[str], end: int) -> int:
    """Index of the last non-blank line before ``end``, or -1."""
    i = end - 1
    while i >= 0 and not lines[i].strip():
        i -= 1
    return i


def _delimiter(lines: list[str]) -> int:
    """Index of the first "-- " line among the last ones, or the number of lines when there is none."""
    for i in range(max(0, len(lines) - _SIGNATURE_WINDOW), len(lines)):
        if lines[i].rstrip() == "--":
            return i
    return len(lines)


def _closing_start(lines: list[str], end: int) -> int | None:
    """Where a "Sent from my iPhone" line or a closing block ending at ``end`` starts."""
    last = _last_filled(lines, end)
    if last >= 0 and _SENT_FROM.fullmatch(lines[last]):
        return last
    i, signature_lines = last, 0
    while i >= 0:
        if _is_valediction(lines[i]):
            return i
        if signature_lines == _CLOSING_LINES or not _is_signature_line(lines[i]):
            return None
        signature_lines += 1
        i = _last_filled(lines, i)
    return None


def strip_signature(text: str) -> str:
    """``text`` without its trailing signature: an RFC 3676 "-- " line and all after it, "Sent from my iPhone" lines
    (and their French, German, Spanish, … forms), and a closing block (a valediction such as "Best regards," or
    "Mit freundlichen Grüßen" followed by at most four short lines). Only at the end: a "Thanks," followed by more
    of the message stays. Cuts stop before one that would leave nothing ("Thanks!" stays, and "Gracias." then
    "Un saludo," and "Pedro" on lines of their own becomes "Gracias."); a text that is all signature is kept whole."""
    lines = text.splitlines()
    end = _delimiter(lines)
    if _last_filled(lines, end) < 0:
        return text
    while (start := _closing_start(lines, end)) is not None and _last_filled(lines, start) >= 0:
        end = start
    return text if end == len(lines) else "\n".join(lines[:end]).rstrip()


# ---------------------------------------------------------------- the message

def attachment_line(name: str) -> str:
    """The line that stands for an attachment; its name on one line."""
    return f"[attachment: {' '.join(name.split()) or 'unnamed'}]"


def clean_message(body: str, *, is_html: bool, attachments: Sequence[str] = ()) -> str:
    """One message as the adapters store it: text (from HTML when ``is_html``) without quoted replies or signature,
    whitespace normalised, then one ``[attachment: name]`` line per attachment. "" only when there is neither."""
    text = html_to_text(body) if is_html else _normalise_chars(body)
    text = _tidy(strip_signature(strip_quoted(text)))
    lines = [text] if text.strip() else []
    return "\n".join(lines + [attachment_line(name) for name in attachments])
