"""The manifest of a run: config and its hash, input fingerprints, versions, revision, and
what each stage read, wrote, counted and how long it took; and whether a stage is complete."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from eval.config import ConfigError, RunConfig, load_config
from eval.run.folder import Artifact, RunFolder
from eval.store import write_json


def _folder(folder: RunFolder | Path) -> RunFolder:
    """Stages outside the run package still name the folder by its path."""
    return folder if isinstance(folder, RunFolder) else RunFolder(Path(folder))


def now() -> str:
    """UTC now, or ``SOURCE_DATE_EPOCH`` when set (the reproducible-builds convention), so two
    runs can be compared byte for byte including the start time the report shows."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    instant = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    return instant.isoformat(timespec="seconds")


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


def load_manifest(folder: RunFolder | Path) -> dict[str, Any]:
    path = _folder(folder).manifest
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def update_manifest(folder: RunFolder | Path, **fields: Any) -> dict[str, Any]:
    """Merge ``fields`` into the manifest (nested dicts merged one level deep)."""
    manifest = load_manifest(folder)
    for key, value in fields.items():
        if isinstance(value, dict) and isinstance(manifest.get(key), dict):
            manifest[key] = {**manifest[key], **value}
        else:
            manifest[key] = value
    write_json(_folder(folder).manifest, manifest)
    return manifest


def files_state(run_dir: Path, paths: Iterable[Path]) -> dict[str, list[int] | None]:
    """(size, mtime) of each file, named relative to the run folder when inside it; None when
    missing. A stage whose recorded inputs and outputs still match this is complete."""
    out: dict[str, list[int] | None] = {}
    for path in paths:
        path = Path(path)
        try:
            name = str(path.resolve().relative_to(run_dir.resolve()))
        except ValueError:
            name = str(path.resolve())
        out[name] = [path.stat().st_size, path.stat().st_mtime_ns] if path.exists() else None
    return out


def stage_files(folder: RunFolder, reads: Sequence[Artifact], writes: Sequence[Artifact]) -> dict[str, Any]:
    """The state of a stage's run-folder inputs and outputs, recorded when it finishes. Inputs
    outside the folder (data, answers, rubrics, reviewer files) are fingerprinted once per run
    in the manifest instead."""
    return {"inputs": files_state(folder.root, [folder.path(n) for n in reads]),
            "outputs": files_state(folder.root, [folder.path(n) for n in writes])}


def completed_stage(folder: RunFolder, stage: str, reads: Sequence[Artifact],
                    writes: Sequence[Artifact]) -> dict[str, Any] | None:
    """The manifest entry of ``stage`` if it finished and none of its run-folder files changed
    since (so a resumed run can skip it), else None."""
    entry = load_manifest(folder).get("stages", {}).get(stage)
    now = stage_files(folder, reads, writes)
    if not isinstance(entry, dict) or entry.get("files") != now:
        return None
    return None if None in now["outputs"].values() else entry


def changed_inputs(manifest: dict[str, Any], config_sha256: str, inputs: list[dict[str, Any]]) -> list[str]:
    """What differs between the run recorded in ``manifest`` and this one, in words."""
    changes = []
    if manifest.get("config_sha256") != config_sha256:
        changes.append("the config (its hash differs)")
    before = {i["path"]: i["sha256"] for i in manifest.get("inputs", [])}
    now = {i["path"]: i["sha256"] for i in inputs}
    for path in sorted(before.keys() | now.keys()):
        if path not in now:
            changes.append(f"input {path} (no longer used or missing)")
        elif path not in before:
            changes.append(f"input {path} (new)")
        elif before[path] != now[path]:
            changes.append(f"input {path} (content changed)")
    return changes


MONITOR_STATE: tuple[Artifact, ...] = ("monitor", "live_reviews", "live_rejected", "assist_logs", "assist_rejected")
"""What ``monitor`` imported and concluded after the earlier run's decisions: stale once the run starts over."""


def clear_run(folder: RunFolder) -> None:
    """Forget an earlier run in this folder (``--force``): its manifest, partial files and progress, and
    the monitor's state (a live review kept there would refuse the same review id of new data)."""
    folder.manifest.unlink(missing_ok=True)
    for artifact in MONITOR_STATE:
        folder.path(artifact).unlink(missing_ok=True)
    for pattern in ("*.partial", "*.progress.json"):
        for path in folder.root.glob(pattern):
            path.unlink()


def config_of_run(run_dir: Path) -> RunConfig:
    """The config a run was made with, so ``replay RUN`` needs no config argument."""
    manifest = load_manifest(run_dir)
    if not manifest.get("config_path"):
        raise ConfigError(f"{run_dir}: no manifest.json with a config; start it with `support-eval run`")
    return load_config(manifest["config_path"])
