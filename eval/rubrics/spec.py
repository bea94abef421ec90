"""Rubric YAML → frozen dataclasses, validated once at load time.

Every pattern is compiled here, once per rubric (a criterion's patterns combined into one
alternation), so scoring an answer never parses YAML or compiles a regex. Errors name the
file and the key, e.g. ``rubrics/refund.yaml: criteria[2].kind: unknown kind 'foo'``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass as std_dataclass
from dataclasses import field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, cast

import yaml
from pydantic import AfterValidator, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator
from pydantic.dataclasses import dataclass

from eval.errors import UserError
from eval.rubrics.extend import DEFAULT_RUBRIC, Base, inherit, with_base

Na = Literal["skip", "pass", "fail"]
DEFAULT_CATEGORY = "*"

_SPEC = ConfigDict(extra="forbid")
_NUMERIC_BACKREF = re.compile(r"(?<!\\)\\[1-9]")

ESCALATION_PATTERNS: tuple[str, ...] = (
    r"\bescalat(?:e|ed|es|ing|ion)\b",
    r"\b(?:transfer|forward|pass|hand)(?:ed|ing|s)? (?:you|this|it|your \w+)(?: over| on)? to\b",
    r"\b(?:supervisor|manager|specialist|senior (?:agent|colleague|team))\b",
    r"\bour (?:fraud|security|legal|billing|technical|tech|specialist) (?:team|department)\b",
    r"\b(?:a|our) (?:colleague|specialist|team member) will (?:contact|call|reach|get back)",
    r"\bopened? an? (?:case|investigation|ticket) with\b",
)
"""Phrases that hand a ticket to someone else; a criterion's ``patterns`` replaces them."""


class RubricError(UserError):
    """A rubric problem, already phrased for the user (file and key included)."""


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Case-insensitive regex for searching lower-cased text.

    Answers are lower-cased once, so IGNORECASE (2-3x slower in ``re``) is only needed when the
    pattern itself holds an upper-case letter outside an escape such as ``\\S`` or ``\\D``.
    """
    return re.compile(pattern, re.IGNORECASE if _has_upper_literal(pattern) else 0)


def _has_upper_literal(pattern: str) -> bool:
    escaped = False
    for ch in pattern:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch != ch.lower():
            return True
    return False


def compile_any(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """One alternation, so ``any`` costs one regex search per answer."""
    return compile_pattern("|".join(f"(?:{p})" for p in patterns))


def _check_patterns(patterns: tuple[str, ...]) -> tuple[str, ...]:
    for p in patterns:
        try:
            re.compile(p)
        except re.error as exc:
            raise ValueError(f"bad regex {p!r}: {exc}") from exc
        if _NUMERIC_BACKREF.search(p):
            raise ValueError(f"regex {p!r}: numeric backreferences break when patterns are combined; "
                             "use (?P<name>...) and (?P=name)")
    try:
        compile_any(patterns)
    except re.error as exc:
        raise ValueError(f"patterns cannot be combined into one regex: {exc}") from exc
    return patterns


Patterns = Annotated[tuple[str, ...], AfterValidator(_check_patterns)]
"""Regexes, checked (compiled, no back-references) when the rubric is read."""


@dataclass(frozen=True, config=_SPEC)
class When:
    """Applicability condition: the criterion counts only when the customer's turns match."""

    context_matches: Patterns = Field(min_length=1)


    @cached_property
    def regex(self) -> re.Pattern[str]:
        return compile_any(self.context_matches)


@dataclass(frozen=True, kw_only=True, config=_SPEC)
class CriterionSpec:
    """Fields every kind has. ``value_min``/``value_max`` bound the raw value (Zendesk QA scale)."""

    value_min: ClassVar[float] = 0.0
    value_max: ClassVar[float] = 1.0

    id: str = Field(min_length=1)
    weight: float = Field(default=1.0, gt=0)
    critical: bool = False
    when: When | None = None
    na: Na = "skip"

    @property
    def pass_value(self) -> float:
        """The value at or above which the criterion counts as passed."""
        return self.value_max


@dataclass(frozen=True, kw_only=True, config=_SPEC)
class Required(CriterionSpec):
    kind: Literal["required"]
    patterns: Patterns = Field(min_length=1)
    match: Literal["any", "all"] = "any"


    @cached_property
    def regex(self) -> re.Pattern[str]:
        return compile_any(self.patterns)

    @cached_property
    def regexes(self) -> tuple[re.Pattern[str], ...]:
        return tuple(compile_pattern(p) for p in self.patterns)


@dataclass(frozen=True, kw_only=True, config=_SPEC)
class Forbidden(CriterionSpec):
    kind: Literal["forbidden"]
    patterns: Patterns = Field(min_length=1)


    @cached_property
    def regex(self) -> re.Pattern[str]:
        return compile_any(self.patterns)


@dataclass(frozen=True, kw_only=True, config=_SPEC)
class MentionsFact(CriterionSpec):
    kind: Literal["mentions_fact"]
    fact: str = Field(min_length=1)


@dataclass(frozen=True, kw_only=True, config=_SPEC)
class Length(CriterionSpec):
    """Graded: 1 inside [min_words, max_words]; see ``criteria.length`` for the exact shape."""

    kind: Literal["length"]
    min_words: int = Field(default=0, ge=0)
    max_words: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _bounds(self) -> Length:
        if self.max_words is None and self.min_words == 0:
            raise ValueError("give min_words, max_words or both")
        if self.max_words is not None and self.min_words > self.max_words:
            raise ValueError(f"min_words {self.min_words} > max_words {self.max_words}")
        return self


@dataclass(frozen=True, kw_only=True, config=_SPEC)
class Escalation(CriterionSpec):
    kind: Literal["escalation"]
    expect: Literal["required", "forbidden"]
    patterns: Patterns | None = Field(default=None, min_length=1)


    @cached_property
    def regex(self) -> re.Pattern[str]:
        return compile_any(self.patterns or ESCALATION_PATTERNS)


@dataclass(frozen=True, kw_only=True, config=_SPEC)
class NoPiiEcho(CriterionSpec):
    kind: Literal["no_pii_echo"]


@dataclass(frozen=True, kw_only=True, config=_SPEC)
class LlmJudge(CriterionSpec):
    """G-Eval style: a model rates the answer 1-5 on ``criterion`` following ``steps``.

    The verdict is JSON ``{"score": <1-5>, "reason": "..."}`` parsed strictly; a malformed
    verdict or a failed call is an error on the answer's score, never a value.
    """

    value_min: ClassVar[float] = 1.0
    value_max: ClassVar[float] = 5.0

    kind: Literal["llm_judge"]
    criterion: str = Field(min_length=1)
    steps: tuple[str, ...] = ()
    pass_at: int = Field(default=4, ge=1, le=5)

    @property
    def pass_value(self) -> float:
        return float(self.pass_at)


Criterion = Required | Forbidden | MentionsFact | Length | Escalation | NoPiiEcho | LlmJudge
KINDS: dict[str, type[CriterionSpec]] = {
    "required": Required, "forbidden": Forbidden, "mentions_fact": MentionsFact,
    "length": Length, "escalation": Escalation, "no_pii_echo": NoPiiEcho, "llm_judge": LlmJudge,
}
_ADAPTERS = {kind: TypeAdapter(cls) for kind, cls in KINDS.items()}


@dataclass(frozen=True, kw_only=True, config=_SPEC)
class _Header:
    id: str = Field(min_length=1)
    version: str = Field(min_length=1)
    categories: tuple[str, ...] = Field(min_length=1)
    criteria: tuple[dict[str, Any], ...] = ()
    extends: Base | None = None
    drop: tuple[str, ...] = ()

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, v: Any) -> Any:
        """``version: 1`` is the usual spelling; scores record it as text either way."""
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v


@std_dataclass(frozen=True)
class Rubric:
    id: str
    version: str
    categories: tuple[str, ...]
    criteria: tuple[Criterion, ...]
    source: str = field(default="", compare=False)

    @property
    def ref(self) -> str:
        """How scores name the rubric: ``id@version``."""
        return f"{self.id}@{self.version}"

    @property
    def judged(self) -> tuple[LlmJudge, ...]:
        """The criteria a model must judge before this rubric can score an answer."""
        return tuple(c for c in self.criteria if isinstance(c, LlmJudge))

    def warm(self) -> Rubric:
        """Compile every pattern now, so a long scoring run never pays for it per answer."""
        for c in self.criteria:
            for name in ("regex", "regexes"):
                getattr(c, name, None)
            if c.when is not None:
                c.when.regex  # noqa: B018 (compiles the cached pattern)
        return self


@std_dataclass(frozen=True)
class RubricBook:
    """All rubrics of a folder; one per category plus an optional default (``categories: ["*"]``)."""

    rubrics: tuple[Rubric, ...]
    source: str
    by_category: dict[str, Rubric] = field(default_factory=dict, compare=False)

    @property
    def default(self) -> Rubric | None:
        return self.by_category.get(DEFAULT_CATEGORY)

    def for_category(self, category: str) -> Rubric:
        rubric = self.by_category.get(category) or self.default
        if rubric is None:
            raise RubricError(
                f"{self.source}: no rubric for category '{category}' and no default rubric "
                '(a rubric with categories: ["*"]; add extends: support-default to it to use the packaged one)'
            )
        return rubric


def _where(prefix: str, loc: tuple[Any, ...]) -> str:
    out = prefix
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _problems(prefix: str, exc: ValidationError) -> list[str]:
    messages = {"unexpected_keyword_argument": "unknown key", "missing": "required key missing"}
    out = []
    for err in exc.errors(include_url=False):
        plain = err["msg"].removeprefix("Value error, ").replace("Tuple", "List").replace("tuple", "list")
        msg = messages.get(err["type"], plain)
        out.append(f"{_where(prefix, err['loc'])}: {msg}")
    return out


def _criterion(i: int, raw: dict[str, Any]) -> tuple[Criterion | None, list[str]]:
    where = f"criteria[{i}]"
    kind = raw.get("kind")
    if kind not in KINDS:
        problem = "required key missing" if kind is None else f"unknown kind {kind!r}"
        return None, [f"{where}.kind: {problem} (one of {', '.join(KINDS)})"]
    try:
        return cast(Criterion, _ADAPTERS[kind].validate_python(raw)), []  # KINDS holds the union's classes
    except ValidationError as exc:
        return None, _problems(where, exc)


def parse_rubric(raw: Any, source: str) -> Rubric:
    """One rubric from parsed YAML; every problem in the file is reported at once."""
    if not isinstance(raw, dict):
        raise RubricError(f"{source}: expected a mapping of keys at the top level")
    try:
        header = TypeAdapter(_Header).validate_python(raw)
    except ValidationError as exc:
        raise RubricError(f"{source}: " + "; ".join(_problems("", exc))) from exc
    criteria: list[Criterion] = []
    problems: list[str] = []
    for i, item in enumerate(header.criteria):
        crit, errs = _criterion(i, item)
        problems.extend(errs)
        if crit is not None:
            if any(c.id == crit.id for c in criteria):
                problems.append(f"criteria[{i}].id: duplicate criterion id {crit.id!r}")
            criteria.append(crit)
    if header.extends is not None:
        criteria, inherited = inherit(packaged_rubric().criteria, criteria, header.drop, header.extends)
        problems.extend(inherited)
    elif header.drop or not header.criteria:
        problems.append("drop: only a rubric with extends: has criteria to drop" if header.drop
                        else "criteria: required key missing (or extends: support-default)")
    if problems:
        raise RubricError(f"{source}: " + "; ".join(problems))
    return Rubric(header.id, header.version, header.categories, tuple(criteria), source).warm()


def _read(path: Path) -> Rubric:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RubricError(f"{path}: not valid YAML: {exc}") from exc
    return parse_rubric(raw, str(path))


@lru_cache(maxsize=1)
def packaged_rubric() -> Rubric:
    """The rubric that ships in the package (``support-default``), read once per process."""
    return _read(DEFAULT_RUBRIC)


def _index(rubrics: list[Rubric]) -> dict[str, Rubric]:
    by_category: dict[str, Rubric] = {}
    ids: dict[str, Rubric] = {}
    for rubric in rubrics:
        if rubric.id in ids:
            raise RubricError(f"{rubric.source}: id: rubric id {rubric.id!r} also used by {ids[rubric.id].source}")
        ids[rubric.id] = rubric
        for category in rubric.categories:
            other = by_category.get(category)
            if other is not None:
                raise RubricError(
                    f"{rubric.source}: categories: {category!r} already has rubric {other.ref} ({other.source})"
                )
            by_category[category] = rubric
    return by_category


def _listed(path: Path) -> list[Path]:
    """The rubric files at ``path``: a folder's ``*.yaml`` sorted by name, or the file itself."""
    path = Path(path)
    return sorted(path.glob("*.yaml")) if path.is_dir() else [path]


def rubric_files(path: Path) -> list[Path]:
    """Every file scoring with the rubrics at ``path`` reads: those listed there, and the packaged
    rubric when one of them extends it (fingerprinted by runs, part of a resumed stage's key)."""
    return with_base(_listed(path))


def load_rubrics(path: Path) -> RubricBook:
    """A folder of ``*.yaml`` rubrics (sorted by name) or a single YAML file."""
    path = Path(path)
    if not path.exists():
        raise RubricError(f"{path}: rubrics path not found")
    files = _listed(path)
    if not files:
        raise RubricError(f"{path}: no *.yaml rubric files in this folder")
    rubrics = [_read(f) for f in files]
    return RubricBook(tuple(rubrics), str(path), _index(rubrics))
