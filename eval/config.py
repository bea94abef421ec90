"""Run configuration (YAML) validated by pydantic; errors name the file and the bad key."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class ConfigError(ValueError):
    """A config problem, already phrased for the user (file and key included)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Strict):
    paths: list[str] = Field(min_length=1)
    mapping: str | None = None
    max_text_chars: int = Field(default=20_000, gt=0)
    max_quarantine: float = Field(default=0.05, ge=0.0, le=1.0)


class RetrievalResponder(_Strict):
    kind: Literal["retrieval"] = "retrieval"
    history_fraction: float = Field(default=0.5, gt=0.0, lt=1.0)
    batch_size: int = Field(default=256, gt=0)


class PrecomputedResponder(_Strict):
    kind: Literal["precomputed"]
    path: str


Responder = Annotated[RetrievalResponder | PrecomputedResponder, Field(discriminator="kind")]


class ReplayConfig(_Strict):
    turns: Literal["all", "first"] = "all"
    responder: Responder = RetrievalResponder()


class RubricsConfig(_Strict):
    path: str


class RatingsConfig(_Strict):
    key: str | None = None
    files: list[str] = Field(default_factory=list)


class RunConfig(_Strict):
    name: str = Field(min_length=1)
    seed: int = 0
    data: DataConfig
    replay: ReplayConfig = ReplayConfig()
    rubrics: RubricsConfig
    ratings: RatingsConfig = RatingsConfig()
    policy: dict[str, Any] | str | None = None
    source: str | None = Field(default=None, exclude=True)

    def resolve(self, path: str) -> Path:
        """Paths in a config are relative to the config file, as users expect."""
        p = Path(path)
        if p.is_absolute() or self.source is None:
            return p
        return (Path(self.source).parent / p).resolve()

    def digest(self) -> str:
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc if not str(part).startswith("function-"))


def load_config(path: str | Path) -> RunConfig:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: config file not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    try:
        return RunConfig.model_validate({**raw, "source": str(path.resolve())})
    except ValidationError as exc:
        problems = "; ".join(
            f"key '{_where(e['loc'])}': {e['msg']}" for e in exc.errors(include_url=False)
        )
        raise ConfigError(f"{path}: {problems}") from exc
