"""What every helpdesk adapter shares: export files read as JSON objects, the lookup tables the
vendor's records refer to (users, field names), the category rule, and the one way a vendor
conversation becomes our ticket (order, cleaning, language, quarantine).

An adapter knows only its vendor's structure, as a ``datasets`` builder only yields examples: which
objects are lookups, and how a vendor ticket becomes a ``Conversation``. Reading, streaming and
quarantine live here.

Streaming: files whose first object is a lookup (users, ticket fields, comment events) are read
first, into an on-disk table; then the ticket files, one object at a time. Nothing that grows with
the number of tickets is held in memory.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from eval.ingest.clean import clean_message
from eval.ingest.language import MAX_CHARS, detect_language
from eval.ingest.mapping import CategoryRule
from eval.ingest.mapping import Mapping as IngestMapping
from eval.ingest.quarantine import RECORD, IngestError, Problem, Reason
from eval.ingest.sources import SourceRow, json_line, jsonl_lines
from eval.records import Role
from eval.store import ScratchIndex

@dataclass(frozen=True)
class Message:
    """One message of a vendor conversation, before cleaning; ``created_at`` is ISO 8601 or Unix seconds."""

    role: Role
    body: str
    is_html: bool = False
    created_at: str | float | None = None
    author: str | None = None
    author_type: str | None = None
    attachments: tuple[str, ...] = ()


@dataclass(frozen=True)
class Conversation:
    """A vendor ticket in our terms, still in the vendor's message order and with raw bodies."""

    ticket_id: str
    category: str | None
    messages: Sequence[Message]
    created_at: str | float | None = None
    channel: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


class Rejected(Exception):
    """A vendor record that cannot become a ticket; carries the quarantine reason."""

    def __init__(self, reason: Reason, where: str, detail: str) -> None:
        super().__init__(detail)
        self.problem = Problem(reason, where, detail)


@dataclass(frozen=True)
class CategoryFacts:
    """What a category rule may read from a vendor ticket; ``custom`` is keyed by field id and name (text)."""

    custom: Mapping[str, Any] = field(default_factory=dict)
    tags: Sequence[str] = ()
    form: str | None = None
    form_name: str | None = None
    type: str | None = None


def category_of(rule: CategoryRule | None, facts: CategoryFacts) -> str | None:
    """The first rule that gives a non-blank value, else the rule's default."""
    if rule is None:
        return None
    found: list[Any] = []
    if rule.custom_field is not None:
        found.append(facts.custom.get(str(rule.custom_field)))
    if rule.tag_prefix:
        found.append(next((t[len(rule.tag_prefix):] for t in facts.tags if t.startswith(rule.tag_prefix)), None))
    if isinstance(rule.form, dict):
        found.append(rule.form.get(facts.form or ""))
    elif rule.form:
        found.append(facts.form_name or facts.form)
    if rule.type:
        found.append(facts.type)
    for value in found:
        if value is not None and str(value).strip():
            return str(value).strip()
    return rule.default


def custom_metadata(mapping: IngestMapping | None, facts: CategoryFacts) -> dict[str, Any]:
    """The custom fields the mapping keeps, under our names (``order_id`` for rubric facts)."""
    if mapping is None:
        return {}
    picked = {ours: facts.custom.get(str(theirs)) for ours, theirs in mapping.custom_fields.items()}
    return {key: value for key, value in picked.items() if value is not None and value != ""}


def iso_time(value: str | float | None) -> str | None:
    """Our records keep ISO 8601 text; Unix seconds (Intercom) become UTC ``...Z``."""
    if value is None or isinstance(value, str):
        return value
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def instant(value: str | float | None) -> float | None:
    """Seconds since the epoch of an ISO 8601 time (read as UTC without a zone) or Unix seconds; None if unreadable."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    return None


def in_time_order(messages: Sequence[Message]) -> list[Message]:
    """By creation time (ties keep the export's order); as exported when a time is missing or unreadable."""
    instants = [instant(m.created_at) for m in messages]
    if any(t is None for t in instants):
        return list(messages)
    order = sorted(range(len(messages)), key=lambda i: instants[i] or 0.0)
    return [messages[i] for i in order]


def assemble(conv: Conversation) -> dict[str, Any] | Problem:
    """Our ticket record from a vendor conversation (validated afterwards like any JSONL ticket)."""
    turns: list[dict[str, Any]] = []
    for message in in_time_order(conv.messages):
        text = clean_message(message.body, is_html=message.is_html, attachments=message.attachments)
        if not text:
            continue
        turn: dict[str, Any] = {"role": message.role, "text": text, "author": message.author}
        if message.author_type is not None:
            turn["author_type"] = message.author_type
        turns.append(turn)
    if turns and all(t["role"] in ("note", "system") for t in turns):
        return Problem("notes_only", "turns", f"{len(turns)} internal note(s) or system message(s), nothing said to a customer")
    if conv.category is None:
        return Problem("missing_field", "category", "no category: the mapping's category rule found none for this ticket")
    metadata = dict(conv.metadata)
    said = " ".join(t["text"] for t in turns if t["role"] == "customer")[:MAX_CHARS]
    language = detect_language(said)
    if language is not None:
        metadata["language"] = language
    return {
        "ticket_id": conv.ticket_id, "category": conv.category, "created_at": iso_time(conv.created_at),
        "channel": conv.channel, "turns": turns, "metadata": metadata,
    }


class Lookups(ScratchIndex):
    """Vendor records that tickets refer to (users by id, field names by id, comments by ticket), in
    an on-disk table so a users export of millions costs no memory; recent answers are cached."""

    _SCHEMA = (
        "CREATE TABLE one (kind TEXT, key TEXT, value TEXT, PRIMARY KEY (kind, key)) WITHOUT ROWID;"
        "CREATE TABLE many (kind TEXT, key TEXT, value TEXT); CREATE INDEX many_key ON many (kind, key);"
    )
    _CACHE = 4096

    def __init__(self) -> None:
        super().__init__(self._SCHEMA)
        self._cache: dict[tuple[str, str], Any] = {}
        self._counts: dict[str, int] = {}

    def put(self, kind: str, key: object, value: Any) -> None:
        """The last record of a key wins (a later export page updates a user)."""
        self._db.execute("INSERT OR REPLACE INTO one VALUES (?, ?, ?)", (kind, str(key), json.dumps(value)))
        self._cache.pop((kind, str(key)), None)
        self._counts[kind] = self._counts.get(kind, 0) + 1

    def get(self, kind: str, key: object) -> Any:
        """The stored value, or None."""
        slot = (kind, str(key))
        if slot not in self._cache:
            if len(self._cache) >= self._CACHE:
                self._cache.clear()
            row = self._db.execute("SELECT value FROM one WHERE kind = ? AND key = ?", slot).fetchone()
            self._cache[slot] = None if row is None else json.loads(row[0])
        return self._cache[slot]

    def add(self, kind: str, key: object, value: Any) -> None:
        self._db.execute("INSERT INTO many VALUES (?, ?, ?)", (kind, str(key), json.dumps(value)))
        self._counts[kind] = self._counts.get(kind, 0) + 1

    def all(self, kind: str, key: object) -> list[Any]:
        """Every value added under the key, in the order added."""
        rows = self._db.execute("SELECT value FROM many WHERE kind = ? AND key = ? ORDER BY rowid", (kind, str(key)))
        return [json.loads(value) for (value,) in rows]

    def count(self, kind: str) -> int:
        return self._counts.get(kind, 0)


@dataclass(frozen=True)
class ExportObject:
    """One JSON object of an export file, or why a line of it is unreadable (``row`` then says)."""

    source: str
    line: int
    obj: dict[str, Any] | None
    row: SourceRow | None = None
    at: str | None = None
    """The object's place in a JSON array document (``[3]``); None on a line of its own."""


def export_objects(path: str) -> Iterator[ExportObject]:
    """The objects of a JSON Lines export, or of a JSON document (an API page, or an array of objects)."""
    local = Path(path)
    if not local.is_file():
        raise IngestError(f"{path}: {'is a directory; pass the export files themselves' if local.is_dir() else 'file not found'}")
    if _is_document(local):
        yield from _document_objects(local, path)
        return
    for lineno, data in jsonl_lines(local, path):
        row = json_line(data, path, lineno)
        yield ExportObject(path, lineno, row.record) if row.problem is None else ExportObject(path, lineno, None, row)


def _is_document(path: Path) -> bool:
    """True when the first line is not a whole JSON value: a pretty-printed page or array."""
    with open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                try:
                    json.loads(line.removeprefix(b"\xef\xbb\xbf"))
                except ValueError:
                    return True
                return line.lstrip(b"\xef\xbb\xbf \t").startswith(b"[")
    return False


def _document_objects(path: Path, source: str) -> Iterator[ExportObject]:
    """A page holds at most a few thousand records (API pages), so it is parsed whole."""
    try:
        doc = json.loads(path.read_bytes().removeprefix(b"\xef\xbb\xbf").decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        problem = Problem("invalid_json", RECORD, f"not JSON Lines and not one JSON document: {exc}")
        yield ExportObject(source, 1, None, SourceRow(source, 1, "export", None, None, problem))
        return
    for index, obj in enumerate(doc if isinstance(doc, list) else [doc]):
        if isinstance(obj, dict):
            yield ExportObject(source, 1, obj, at=f"[{index}]" if isinstance(doc, list) else None)
        else:
            problem = Problem("wrong_type", RECORD, f"expected a JSON object, got {type(obj).__name__}")
            yield ExportObject(source, 1, None, SourceRow(source, 1, "export", None, obj, problem, f"[{index}]"))


class Adapter(ABC):
    """One helpdesk's export: every vendor ticket as a row, converted (kind ``export``) or with its problem."""

    name: ClassVar[str]

    def __init__(self, mapping: IngestMapping | None) -> None:
        self.mapping = mapping
        self.rule = mapping.category if mapping is not None else None

    @abstractmethod
    def conversations(self, paths: Sequence[str]) -> Iterator[Pending]:
        """Every vendor ticket of the export in input order, in our terms or with its problem."""


@dataclass(frozen=True)
class Pending:
    """A vendor ticket read and converted, before ``assemble`` (cleaning and language: most of the cost,
    so it may run in other processes); ``raw`` is what quarantine shows."""

    source: str
    line: int
    raw: Any
    conv: Conversation | Problem
    at: str | None = None

    def row(self, assembled: dict[str, Any] | Problem) -> SourceRow:
        if isinstance(assembled, Problem):
            return SourceRow(self.source, self.line, "export", None, self.raw, assembled, self.at)
        return SourceRow(self.source, self.line, "export", assembled, self.raw, None, self.at)


def assemble_all(convs: list[Conversation | Problem]) -> list[dict[str, Any] | Problem]:
    """``assemble`` over a batch (worker side); problems pass through."""
    return [conv if isinstance(conv, Problem) else assemble(conv) for conv in convs]


class ObjectAdapter(Adapter):
    """An export of JSON objects (API responses). Subclasses say what is a lookup and how a ticket converts."""

    @abstractmethod
    def is_lookup(self, obj: dict[str, Any]) -> bool:
        """True for an object that only describes others (users, fields, comment events)."""

    @abstractmethod
    def store(self, obj: dict[str, Any], lookups: Lookups) -> None:
        """Keep what a lookup object (or a page's side-loaded records) says."""

    @abstractmethod
    def tickets(self, obj: dict[str, Any]) -> Iterator[tuple[str | None, Any]]:
        """The vendor tickets of an object, each with where it sits in the object (None: it is the ticket)."""

    @abstractmethod
    def conversation(self, ticket: dict[str, Any], lookups: Lookups) -> Conversation:
        """The vendor ticket in our terms; raises ``Rejected`` for one that cannot become a ticket."""

    def ready(self, lookups: Lookups) -> None:
        """Raise an ``IngestError`` when the lookups read cannot support any ticket (a missing users file)."""

    def conversations(self, paths: Sequence[str]) -> Iterator[Pending]:
        """Every vendor ticket of the export, lookup files first."""
        with Lookups() as lookups:
            first, rest = self._split(paths)
            for path in first + rest:
                yield from self._file_rows(path, lookups)

    def _split(self, paths: Sequence[str]) -> tuple[list[str], list[str]]:
        lookups: list[str] = []
        others: list[str] = []
        for path in paths:
            head = next(export_objects(path), None)
            is_lookup = head is not None and head.obj is not None and self.is_lookup(head.obj)
            (lookups if is_lookup else others).append(path)
        return lookups, others

    def _file_rows(self, path: str, lookups: Lookups) -> Iterator[Pending]:
        checked = False
        for item in export_objects(path):
            if item.obj is None:
                assert item.row is not None and item.row.problem is not None
                yield Pending(item.source, item.line, item.row.raw, item.row.problem, item.row.at)
                continue
            self.store(item.obj, lookups)
            for at, ticket in self.tickets(item.obj):
                if not checked:
                    self.ready(lookups)
                    checked = True
                yield self._row(item, at if at is not None else item.at, ticket, lookups)

    def _row(self, item: ExportObject, at: str | None, ticket: Any, lookups: Lookups) -> Pending:
        conv: Conversation | Problem
        if not isinstance(ticket, dict):
            conv = Problem("wrong_type", RECORD, f"expected a JSON object, got {type(ticket).__name__}")
        else:
            try:
                conv = self.conversation(ticket, lookups)
            except Rejected as exc:
                conv = exc.problem
        return Pending(item.source, item.line, ticket, conv, at)


def text_id(value: Any, where: str) -> str:
    """A vendor id as our text id; a record without one is quarantined."""
    if value is None or isinstance(value, bool) or (isinstance(value, str) and not value.strip()):
        raise Rejected("missing_field", where, "no id")
    if not isinstance(value, str | int):
        raise Rejected("wrong_type", where, f"expected an id (text or number), got {type(value).__name__}")
    return str(value)
