"""The packaged default rubric: where it is, when a run scores with it, and rubrics built on it.

A rubric with ``extends: support-default`` inherits the default's criteria: one of its own with
the same id replaces the default's (in the default's place), new ones are appended, and ``drop``
removes some. Only the packaged rubric can be a base for now: one base keeps every rubric
readable from two files at most.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar

import yaml

if TYPE_CHECKING:
    from eval.config import RunConfig

DEFAULT_RUBRIC = Path(__file__).with_name("default.yaml")
Base = Literal["support-default"]
"""The rubric ids ``extends`` accepts: the packaged rubric's."""


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


C = TypeVar("C", bound=_Identified)


def rubrics_path(cfg: RunConfig) -> Path:
    """The rubrics a run scores with: the config's ``rubrics.path``, else the packaged default."""
    return DEFAULT_RUBRIC if cfg.rubrics is None else cfg.resolve(cfg.rubrics.path)


def inherit(base: Sequence[C], own: Sequence[C], drop: Sequence[str], base_id: str) -> tuple[list[C], list[str]]:
    """The base's criteria with ``own`` replacing or appended and ``drop`` removed, and the problems
    found, each naming its key (``drop[1]: ...``) as the rubric loader reports them."""
    ids = {c.id for c in base}
    mine = {c.id: c for c in own}
    problems = [
        f"drop[{i}]: {name!r} is not a criterion of {base_id} (its criteria: {', '.join(c.id for c in base)})"
        if name not in ids else
        f"drop[{i}]: {name!r} is also in criteria; to replace the base's criterion, leave it off drop"
        for i, name in enumerate(drop) if name not in ids or name in mine
    ]
    kept = [mine.get(c.id, c) for c in base if c.id not in drop]
    return kept + [c for c in own if c.id not in ids], problems


def with_base(files: list[Path]) -> list[Path]:
    """``files`` and the packaged rubric when one of them extends it: every file scoring reads, as
    the run records them. A file that does not parse counts as not extending (loading reports it)."""
    for path in files:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if isinstance(raw, dict) and "extends" in raw:
            return [*files, DEFAULT_RUBRIC]
    return files
