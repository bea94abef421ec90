"""Map a foreign record shape onto our Ticket, so foreign data loads with no conversion script.

The mapping is a YAML file::

    fields:                  # our field: dotted path in the source record
      ticket_id: id
      category: intent
      created_at: meta.created
      channel: source.channel
      metadata: meta         # a whole sub-dict, or a dict of our_key: dotted.path
    turns:                   # either from a list field ...
      from: messages         #   dotted path of the list of turns
      role: speaker          #   key of the role in each turn   (default: role)
      text: body             #   key of the text in each turn   (default: text)
      author: agent_name     #   key of the author in each turn (default: author)
      roles: {user: customer, bot: agent}   # source role value -> ours; others pass as-is
    # ... or built from columns, one turn per column, in order (question/answer datasets):
    # turns:
    #   columns:
    #     - {field: question, role: customer}
    #     - {field: answer, role: agent}

For a helpdesk export (``format: zendesk | intercom | freshdesk | messages_csv``) the adapter knows
the vendor's structure, and the mapping says only what differs between companies::

    category:                # where the category is; the first rule that gives a value wins
      custom_field: 360012345  # a custom field by id or by name (Zendesk, Freshdesk cf_*, Intercom attribute)
      tag_prefix: cat_         # the first tag starting with it, prefix removed (cat_refund -> refund)
      form: true               # the ticket form's name (Zendesk), or {form id: category}
      type: true               # the ticket type (Zendesk, Freshdesk)
      default: other           # when no rule gives a value (else the ticket is quarantined)
    custom_fields:           # custom fields kept in metadata: our key -> field id or name
      order_id: Order number
    messages:                # messages_csv only: our name -> the column holding it
      ticket_id: conversation_id
      roles: {end_user: customer, staff: agent}
      authors: authors.csv   # author id -> role (and name) when rows carry an author id, not a role

Both sections are optional. Every key under ``fields`` is one of ticket_id, category,
created_at, channel, metadata. A dotted path walks nested objects (``a.b``) and lists
(``a.0``); a source key that itself contains dots (a flattened CSV column) is matched whole
first. Fields the mapping does not mention keep their own names; a top-level source key read
by the mapping is renamed (removed under its old name), nested source objects are kept.

CSV cells are text, so for CSV input ``turns`` and ``metadata`` given as a JSON string in a
cell are decoded; other values (numbers in metadata too) stay strings.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import ConfigDict, Discriminator, Field, Tag, TypeAdapter, ValidationError

from eval.config import DataConfig, read_yaml_mapping
from eval.ingest.quarantine import IngestError, Problem
from eval.records import Role

_STRICT = ConfigDict(extra="forbid")
_MISSING = object()
_PLAIN_TARGETS = ("ticket_id", "category", "created_at", "channel")


@dataclass(frozen=True)
class FieldMap:
    __pydantic_config__ = _STRICT
    ticket_id: str | None = None
    category: str | None = None
    created_at: str | None = None
    channel: str | None = None
    metadata: str | dict[str, str] | None = None


@dataclass(frozen=True)
class TurnsFromList:
    __pydantic_config__ = _STRICT
    source: Annotated[str, Field(alias="from", min_length=1)]
    role: str = "role"
    text: str = "text"
    author: str | None = "author"
    roles: dict[str, Role] = field(default_factory=dict)


@dataclass(frozen=True)
class TurnColumn:
    __pydantic_config__ = _STRICT
    field: str
    role: Role


@dataclass(frozen=True)
class TurnsFromColumns:
    __pydantic_config__ = _STRICT
    columns: Annotated[tuple[TurnColumn, ...], Field(min_length=1)]


def _turns_kind(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    return "by-columns" if "columns" in value else "from-list"


TurnsSpec = Annotated[
    Annotated[TurnsFromList, Tag("from-list")] | Annotated[TurnsFromColumns, Tag("by-columns")],
    Discriminator(_turns_kind),
]


@dataclass(frozen=True)
class CategoryRule:
    """Where a helpdesk export keeps the category; rules are tried in the order of the fields."""

    __pydantic_config__ = _STRICT
    custom_field: str | int | None = None
    tag_prefix: Annotated[str, Field(min_length=1)] | None = None
    form: bool | dict[str, str] = False
    type: bool = False
    default: Annotated[str, Field(min_length=1)] | None = None


@dataclass(frozen=True)
class MessageColumns:
    """The columns of a one-row-per-message CSV (a data warehouse's shape); ``role`` or ``author_id``
    with an ``authors`` table says who wrote each message."""

    __pydantic_config__ = _STRICT
    ticket_id: str = "ticket_id"
    created_at: str = "created_at"
    role: str = "role"
    author: str = "author"
    author_id: str = "author_id"
    text: str = "text"
    category: str = "category"
    channel: str = "channel"
    html: bool = False
    roles: dict[str, Role] = field(default_factory=dict)
    authors: str | None = None
    """A CSV of ``author_id,role[,name]``; a path relative to the mapping file (or config)."""


@dataclass(frozen=True)
class Mapping:
    __pydantic_config__ = _STRICT
    fields: FieldMap = FieldMap()
    turns: TurnsSpec | None = None
    category: CategoryRule | None = None
    custom_fields: dict[str, str | int] = field(default_factory=dict)
    messages: MessageColumns | None = None
    base: str | None = None
    """The folder relative paths in the mapping are read from (the mapping file's own)."""

    def resolve(self, path: str) -> Path:
        p = Path(path)
        return p if p.is_absolute() or self.base is None else Path(self.base) / p


_ADAPTER = TypeAdapter(Mapping)


def load_mapping(path: Path) -> Mapping:
    """Read and check a mapping file; errors name the file and the key."""
    path = Path(path)
    raw = read_yaml_mapping(path, "mapping", IngestError)
    return parse_mapping(raw, str(path), str(path.resolve().parent))


def data_mapping(data: DataConfig, resolve: Callable[[str], Path], where: str) -> Mapping | None:
    """The mapping of a config's ``data`` section: a file (relative to the config) or given inline."""
    if data.mapping is None:
        return None
    if isinstance(data.mapping, str):
        return load_mapping(resolve(data.mapping))
    return parse_mapping(data.mapping, f"{where}: data.mapping", str(resolve(".")))


def mapping_files(mapping: Mapping | None) -> list[Path]:
    """Files a mapping reads besides the data (fingerprinted with the inputs)."""
    if mapping is None or mapping.messages is None or mapping.messages.authors is None:
        return []
    return [mapping.resolve(mapping.messages.authors)]


def parse_mapping(raw: dict[str, Any], where: str, base: str | None) -> Mapping:
    """A mapping given inline (config ``data.mapping: {...}``) or read from a file."""
    if "base" in raw:
        raise IngestError(f"{where}: key 'base': unknown key")
    try:
        return _ADAPTER.validate_python({**raw, "base": base})
    except ValidationError as exc:
        raise IngestError(f"{where}: {_mapping_problems(exc)}") from exc


def _mapping_problems(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"] if p not in ("from-list", "by-columns"))
        msg = "unknown key" if err["type"] == "unexpected_keyword_argument" else err["msg"]
        if err["type"] == "union_tag_invalid" or err["type"] == "union_tag_not_found":
            msg = "expected 'from: <list field>' or 'columns: [...]'"
        problems.append(f"key '{where}': {msg}")
    return "; ".join(problems)


class MappingProblem(Exception):
    """A record the mapping cannot be applied to; carries the quarantine reason."""

    def __init__(self, problem: Problem):
        super().__init__(problem.detail)
        self.problem = problem


def apply_mapping(record: dict[str, Any], mapping: Mapping | None, cells_are_text: bool) -> dict[str, Any]:
    """Our record shape from a source record; unmapped fields keep their names. Without a mapping
    a record that is not CSV text is already in our shape: returned as is (it is only read after)."""
    if mapping is None and not cells_are_text:
        return record
    mapping = mapping or Mapping()
    out = dict(record)
    targets = {name: getattr(mapping.fields, name) for name in _PLAIN_TARGETS}
    sources = [p for p in targets.values() if p] + _metadata_paths(mapping.fields.metadata)
    for path in sources:
        out.pop(path, None)
    for target, path in targets.items():
        if path is not None:
            _put(out, target, _get(record, path))
    if mapping.fields.metadata is not None:
        _put(out, "metadata", _metadata(record, mapping.fields.metadata))
    if isinstance(mapping.turns, TurnsFromList):
        out.pop(mapping.turns.source, None)
        out["turns"] = _turns_from_list(record, mapping.turns, cells_are_text)
    elif isinstance(mapping.turns, TurnsFromColumns):
        for column in mapping.turns.columns:
            out.pop(column.field, None)
        out["turns"] = _turns_from_columns(record, mapping.turns)
    if cells_are_text:
        if "metadata" in out and out["metadata"] is None:
            del out["metadata"]  # an empty cell: no metadata, as when the column is absent
        for name in ("turns", "metadata"):
            if isinstance(out.get(name), str):
                out[name] = _json_cell(out[name], name)
    return out


def _metadata_paths(spec: str | dict[str, str] | None) -> list[str]:
    if spec is None:
        return []
    return [spec] if isinstance(spec, str) else list(spec.values())


def _metadata(record: dict[str, Any], spec: str | dict[str, str]) -> Any:
    if isinstance(spec, str):
        return _get(record, spec)
    picked = {key: _get(record, path) for key, path in spec.items()}
    return {key: value for key, value in picked.items() if value is not _MISSING}


def _put(out: dict[str, Any], target: str, value: Any) -> None:
    """An absent source path leaves our field absent, so validation reports it missing."""
    if value is _MISSING:
        out.pop(target, None)
    else:
        out[target] = value


def _get(record: Any, path: str) -> Any:
    if isinstance(record, dict) and path in record:
        return record[path]
    node = record
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def _json_cell(text: str, name: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        detail = f"cell is not valid JSON: {exc.msg} at column {exc.colno}"
        raise MappingProblem(Problem("invalid_json", name, detail)) from exc


def _turns_from_list(record: dict[str, Any], spec: TurnsFromList, cells_are_text: bool) -> Any:
    turns = _get(record, spec.source)
    if turns is _MISSING:
        raise MappingProblem(Problem("missing_field", "turns", f"source field '{spec.source}' is absent"))
    if cells_are_text and isinstance(turns, str):
        turns = _json_cell(turns, "turns")
    if not isinstance(turns, list):
        detail = f"source field '{spec.source}' should be a list, got {type(turns).__name__}"
        raise MappingProblem(Problem("wrong_type", "turns", detail))
    return [_turn(item, spec) if isinstance(item, dict) else item for item in turns]


def _turn(item: dict[str, Any], spec: TurnsFromList) -> dict[str, Any]:
    """Renames the turn's role/text/author keys; other keys of the turn are kept."""
    renames = {spec.role: "role", spec.text: "text"}
    if spec.author:
        renames[spec.author] = "author"
    turn = {key: value for key, value in item.items() if key not in renames}
    for source_key, ours in renames.items():
        if source_key in item:
            turn[ours] = item[source_key]
    role = turn.get("role")
    if isinstance(role, str):
        turn["role"] = spec.roles.get(role, role)
    return turn


def _turns_from_columns(record: dict[str, Any], spec: TurnsFromColumns) -> list[dict[str, Any]]:
    """An empty cell gives an empty turn text (reported as such), not a missing turn."""
    turns = []
    for column in spec.columns:
        text = _get(record, column.field)
        if text is _MISSING:
            detail = f"source column '{column.field}' is absent"
            raise MappingProblem(Problem("missing_field", "turns", detail))
        turns.append({"role": column.role, "text": "" if text is None else text})
    return turns


def origin(mapping: Mapping | None, field_path: str) -> str | None:
    """The source path our field came from, to name it in quarantine details."""
    if mapping is None:
        return None
    head, _, rest = field_path.partition(".")
    if head == "turns" and isinstance(mapping.turns, TurnsFromList):
        index, _, key = rest.partition(".")
        spec = mapping.turns
        source_key = {"role": spec.role, "text": spec.text, "author": spec.author}.get(key, key)
        return ".".join(p for p in (spec.source, index, source_key) if p)
    if head == "turns" and isinstance(mapping.turns, TurnsFromColumns) and rest:
        index = rest.partition(".")[0]
        if index.isdigit() and int(index) < len(mapping.turns.columns):
            return mapping.turns.columns[int(index)].field
    path = getattr(mapping.fields, head, None) if head in FieldMap.__dataclass_fields__ else None
    return path if isinstance(path, str) else None
