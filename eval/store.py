"""The run folder: JSONL readers/writers, atomic files and the manifest.

Writers go to ``<name>.partial`` and are renamed into place only when complete, so a
killed stage never leaves a file that looks finished.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

ARTIFACTS = {
    "tickets": "tickets.jsonl",
    "quarantine": "quarantine.jsonl",
    "items": "items.jsonl",
    "scores": "scores.jsonl",
    "manifest": "manifest.json",
}


class RecordError(ValueError):
    """A bad line in one of our own JSONL files, named by file, line and field."""


@contextmanager
def atomic_writer(path: Path) -> Iterator[Any]:
    """Open ``path`` for writing; it appears under its real name only on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_jsonl(path: Path, records: Iterable[BaseModel]) -> int:
    n = 0
    with atomic_writer(path) as fh:
        for rec in records:
            fh.write(rec.model_dump_json())
            fh.write("\n")
            n += 1
    return n


def read_jsonl(path: Path, model: type[M]) -> Iterator[M]:
    """Stream records; a malformed line raises with the file, line and field."""
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield model.model_validate_json(line)
            except ValidationError as exc:
                err = exc.errors(include_url=False)[0]
                where = ".".join(str(p) for p in err["loc"]) or "(line)"
                raise RecordError(f"{path}:{lineno}: field '{where}': {err['msg']}") from exc


def write_json(path: Path, data: Any) -> None:
    with atomic_writer(path) as fh:
        json.dump(data, fh, indent=2, sort_keys=True, ensure_ascii=False)
        fh.write("\n")


def fingerprint(path: Path) -> dict[str, Any]:
    """Size and SHA-256 of an input file, for the manifest."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return {"path": str(path), "bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def package_versions() -> dict[str, str]:
    names = ["support-eval", "datasets", "scikit-learn", "numpy", "pandas", "pydantic", "scipy"]
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_revision(cwd: Path | None = None) -> str | None:
    try:
        res = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd or Path(__file__).parent,
            capture_output=True, text=True, timeout=5, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return res.stdout.strip() or None


def load_manifest(run_dir: Path) -> dict[str, Any]:
    path = run_dir / ARTIFACTS["manifest"]
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def update_manifest(run_dir: Path, **fields: Any) -> dict[str, Any]:
    """Merge ``fields`` into the manifest (nested dicts merged one level deep)."""
    manifest = load_manifest(run_dir)
    for key, value in fields.items():
        if isinstance(value, dict) and isinstance(manifest.get(key), dict):
            manifest[key] = {**manifest[key], **value}
        else:
            manifest[key] = value
    write_json(run_dir / ARTIFACTS["manifest"], manifest)
    return manifest
