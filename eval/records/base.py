"""What every record shares: unknown fields kept, one JSONL line each, ISO 8601 times kept as written."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


def iso_8601(v: str | None) -> str | None:
    """Kept as the original string (byte-stable output) but must parse as ISO 8601."""
    if v is not None:
        datetime.fromisoformat(v.replace("Z", "+00:00"))
    return v


class Record(BaseModel):
    model_config = ConfigDict(extra="allow")

    def to_json(self) -> str:
        """One JSONL line; ``None`` fields are kept so every line has the same keys."""
        return self.model_dump_json()


def unset(value: Any) -> bool:
    """For ``exclude_if``: a field written only when set, so files without it keep their bytes."""
    return value is None
