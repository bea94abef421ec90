"""Tests never reach a hub: Hugging Face libraries are forced offline for the whole session."""

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

_REALDATA = (
    os.environ.get("SUPPORT_EVAL_REALDATA"),
    str(Path(__file__).resolve().parents[1].parent / "shared" / "realdata"),
    "/work/shared/realdata",  # where the shared data lives on the project's machine, for a clone made elsewhere (CI's)
)


@pytest.fixture(scope="session")
def realdata() -> Path:
    """The public rating datasets of ``../shared/realdata`` (read from there, never copied into the project)."""
    for candidate in filter(None, _REALDATA):
        if Path(candidate).is_dir():
            return Path(candidate)
    pytest.skip("../shared/realdata not found beside the project (set SUPPORT_EVAL_REALDATA)")


def load_benchmark(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` as a module (a script, not a package), for tests that run its small version."""
    path = Path(__file__).parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = sys.modules[name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
