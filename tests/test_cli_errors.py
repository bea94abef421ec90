"""Exit codes as documented: 2 for what the user can fix (naming the file), 3 for a bug, with its traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from eval import errors
from eval.config import ConfigError
from eval.ingest.quarantine import IngestError
from eval.policy import PolicyError
from eval.ratings.labelstudio import LabelStudioError
from eval.rubrics.spec import RubricError
from eval.store import RecordError, WriteError

BUG = """
import eval.cli as cli

@cli.app.command("boom")
def boom() -> None:
    with cli._user_errors():
        raise {exc}

cli.main()
"""


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("exc", ["KeyError('items')", "ValueError('responder returned 3 answers for 4 requests')",
                                 "RuntimeError('lost track')"])
def test_a_bug_exits_3_with_its_traceback_not_as_bad_input(exc: str) -> None:
    res = run("-c", BUG.format(exc=exc), "boom")
    assert res.returncode == 3, res.stderr
    assert "Traceback" in res.stderr and exc.split("(")[0] in res.stderr and "bug:" in res.stderr


def test_a_user_error_exits_2_with_one_line_and_no_traceback() -> None:
    res = run("-c", BUG.format(exc="errors.UsageError('--per-reviewer: must be at least 1')").replace(
        "import eval.cli as cli", "import eval.cli as cli\nfrom eval import errors"), "boom")
    assert res.returncode == 2 and "--per-reviewer: must be at least 1" in res.stderr
    assert "Traceback" not in res.stderr


def test_a_stage_run_alone_without_its_input_names_the_file_and_the_stage_to_run(tmp_path: Path) -> None:
    demo = Path(__file__).parents[1] / "datasets" / "demo"
    run_dir = tmp_path / "run"
    assert run("-m", "eval", "run", str(demo / "config.yaml"), "--out", str(run_dir)).returncode == 0
    (run_dir / "items.jsonl").unlink()
    res = run("-m", "eval", "score", str(run_dir))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    message = " ".join(res.stderr.split())
    assert "items.jsonl: not found" in message and "support-eval replay" in message


@pytest.mark.parametrize("cls", [ConfigError, PolicyError, RubricError, RecordError, IngestError, LabelStudioError,
                                 errors.UsageError, errors.MissingInput])
def test_every_user_error_class_has_the_one_base(cls: type) -> None:
    assert issubclass(cls, errors.UserError)
    assert issubclass(WriteError, errors.UserError) and issubclass(WriteError, OSError)
    assert issubclass(errors.MissingInput, FileNotFoundError)
