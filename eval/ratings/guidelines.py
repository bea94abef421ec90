"""Rating guidelines: what 1 to 5, "acceptable" and "critical" mean, as every reviewer sees them.

Anchored scales make ratings comparable across reviewers; without them each reviewer invents
their own. A default ships with the package; a run can replace it (``ratings.guidelines``).
``packets`` copies the guidelines in force into ``packets/guidelines.json``, so the app and the
spreadsheets show the version the packets were drawn with.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from eval.config import ConfigError, problems, read_yaml_mapping

DEFAULT = Path(__file__).with_name("guidelines.yaml")
FILE_NAME = "guidelines.json"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Anchor(_Strict):
    score: int = Field(ge=1, le=5)
    label: str = Field(min_length=1)
    meaning: str = Field(min_length=1)


class Critical(_Strict):
    meaning: str = Field(min_length=1)
    examples: list[str] = Field(default_factory=list)


class Guidelines(_Strict):
    title: str = "How to rate"
    summary: list[str] = Field(min_length=1, max_length=5)
    """The always-visible lines: short enough to read at a glance."""
    scale: list[Anchor] = Field(min_length=5, max_length=5)
    acceptable: str = Field(min_length=1)
    critical: Critical
    preference: str = ""

    @model_validator(mode="after")
    def _one_anchor_per_score(self) -> Guidelines:
        if sorted(a.score for a in self.scale) != [1, 2, 3, 4, 5]:
            raise ValueError("scale: needs exactly one anchor for each score 1 to 5")
        return self


def load_guidelines(path: str | Path | None = None) -> Guidelines:
    """The guidelines at ``path`` (YAML), or the shipped default; errors name the file and key."""
    source = Path(path) if path else DEFAULT
    try:
        return Guidelines.model_validate(read_yaml_mapping(source, "guidelines"))
    except ValidationError as exc:
        raise ConfigError(f"{source}: {problems(exc)}") from exc


def read_packet_guidelines(packets_dir: Path) -> Guidelines:
    """The guidelines a packet round was drawn with; the default for rounds drawn before they existed."""
    path = Path(packets_dir) / FILE_NAME
    if not path.exists():
        return load_guidelines()
    return Guidelines.model_validate(json.loads(path.read_text(encoding="utf-8")))
