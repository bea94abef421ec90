"""Files of a run: JSONL readers/writers, atomic files and resumable batches.

Writers go to ``<name>.partial`` and are renamed into place only when complete, so a
killed stage never leaves a file that looks finished. Long stages write through a
``Checkpoint``: batches appended to the partial files, each followed by a progress record
(``<name>.progress.json``) holding the committed byte length and SHA-256 of every output, so a
killed run continues from its last complete batch and a torn tail is cut off, never read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Self, TypeVar

from pydantic import BaseModel, ValidationError

from eval.errors import UsageError, UserError

M = TypeVar("M", bound=BaseModel)

BATCH_ROWS = 8192
"""Records per committed batch: small enough to lose about a second of work, large enough that
the fsyncs per batch are a negligible share of the run."""
BATCH_ROWS_ENV = "SUPPORT_EVAL_BATCH_ROWS"
SLOW_ENV = "SUPPORT_EVAL_TEST_SLOW_BATCH_MS"
"""Test hook: sleep this long after each committed batch and before each atomic rename, so the
kill-and-resume test can land a SIGKILL inside any stage."""


class RecordError(UserError):
    """A bad line in one of our own JSONL files, named by file, line and field."""


class WriteError(OSError, UserError):
    """The run folder cannot be written (read-only, full disk, file too large); already phrased."""

    def __init__(self, errno: int | None, message: str) -> None:
        OSError.__init__(self, errno, message)


def scratch_db(schema: str) -> sqlite3.Connection:
    """A private SQLite file with ``schema``, for indexes too big for memory. It is unlinked once
    opened, so nothing is left behind however the process ends (SIGKILL, a Ray actor torn down);
    without a journal SQLite never reopens it by name. Usable from one thread at a time, not
    always the creating one (Ray actors answer on a pool thread)."""
    folder = tempfile.mkdtemp(prefix="support-eval-scratch-")
    path = os.path.join(folder, "scratch.sqlite")
    db = sqlite3.connect(path, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.executescript(schema)
    except BaseException:
        db.close()
        raise
    finally:
        Path(path).unlink(missing_ok=True)
        os.rmdir(folder)
    return db


class ScratchIndex:
    """An object that keeps what grows with the input in its own ``scratch_db``; close it when done,
    or use it as a context manager."""

    def __init__(self, schema: str) -> None:
        self._db = scratch_db(schema)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def batch_rows() -> int:
    """Rows per batch; ``SUPPORT_EVAL_BATCH_ROWS`` overrides (output bytes do not depend on it)."""
    raw = os.environ.get(BATCH_ROWS_ENV)
    if raw is None:
        return BATCH_ROWS
    if not raw.isdigit() or int(raw) < 1:
        raise UsageError(f"environment variable {BATCH_ROWS_ENV}: expected a positive integer, got {raw!r}")
    return int(raw)


def _test_pause() -> None:
    ms = os.environ.get(SLOW_ENV)
    if ms:
        time.sleep(float(ms) / 1000)


@contextmanager
def writing(path: Path, kept: str = "") -> Iterator[None]:
    """Turn an OSError while writing ``path`` into a WriteError that says what is kept."""
    try:
        yield
    except WriteError:
        raise
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise WriteError(exc.errno, f"cannot write {path}: {reason}{kept}") from exc


@contextmanager
def atomic_writer(path: Path, private: bool = False) -> Iterator[Any]:
    """Open ``path`` for writing; it appears under its real name only on success.

    ``private`` files (tokens, the blind key) are 0600 from their first byte, not chmod-ed after.
    """
    tmp = path.with_name(path.name + ".partial")
    with writing(tmp):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o666)
        if private:
            os.fchmod(fd, 0o600)
        with open(fd, "w", encoding="utf-8", newline="\n") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        _test_pause()
        os.replace(tmp, path)


def write_jsonl(path: Path, records: Iterable[BaseModel], private: bool = False) -> int:
    n = 0
    with atomic_writer(path, private) as fh:
        for rec in records:
            fh.write(rec.model_dump_json())
            fh.write("\n")
            n += 1
    return n


def parse_line(path: Path | str, lineno: int, line: bytes | str, model: type[M]) -> M:
    """One JSONL line as ``model``; a malformed line raises with the file, line and field."""
    try:
        return model.model_validate_json(line)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"]) or "(line)"
        raise RecordError(f"{path}:{lineno}: field '{where}': {err['msg']}") from exc


def read_jsonl(path: Path, model: type[M]) -> Iterator[M]:
    """Stream records; a malformed line raises with the file, line and field."""
    for lineno, _, line in read_lines(path):
        yield parse_line(path, lineno, line, model)


def read_lines(path: Path, offset: int = 0, lineno: int = 0) -> Iterator[tuple[int, int, bytes]]:
    """(line number, byte offset after the line, line) of each non-blank line from ``offset``;
    ``lineno`` is the number of lines before ``offset``, so errors keep naming the right line."""
    with open(path, "rb") as fh:
        fh.seek(offset)
        for line in fh:
            lineno += 1
            offset += len(line)
            if line.strip():
                yield lineno, offset, line


def write_json(path: Path, data: Any, private: bool = False) -> None:
    with atomic_writer(path, private) as fh:
        json.dump(data, fh, indent=2, sort_keys=True, ensure_ascii=False)
        fh.write("\n")


def file_stat(path: Path | str) -> dict[str, Any]:
    """Cheap identity of a file (size, mtime) for progress keys: a changed input restarts a stage."""
    p = Path(path)
    if not p.exists():
        return {"path": str(p)}
    st = p.stat()
    return {"path": str(p), "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


class _Output:
    """One partial output file of a checkpoint, with its committed length and running hash."""

    def __init__(self, final: Path):
        self.final = final
        self.partial = final.with_name(final.name + ".partial")
        self.fh: IO[bytes] | None = None
        self.digest = hashlib.sha256()
        self.bytes = 0
        self.lines = 0

    def fresh(self) -> None:
        self.close()
        self.digest, self.bytes, self.lines = hashlib.sha256(), 0, 0
        self.fh = open(self.partial, "wb")  # noqa: SIM115 - held across batches, closed by close()

    def restore(self, saved: dict[str, Any]) -> bool:
        """Cut the partial file back to its committed length; False if that prefix is not the one
        recorded (missing, shorter, or different bytes)."""
        if not self.partial.exists() or self.partial.stat().st_size < saved["bytes"]:
            return False
        with open(self.partial, "rb") as fh:
            remaining = saved["bytes"]
            while remaining:
                block = fh.read(min(remaining, 1 << 20))
                self.digest.update(block)
                remaining -= len(block)
        if self.digest.hexdigest() != saved["sha256"]:
            return False
        self.fh = open(self.partial, "r+b")  # noqa: SIM115 - held across batches, closed by close()
        self.fh.truncate(saved["bytes"])
        self.fh.seek(saved["bytes"])
        self.bytes, self.lines = saved["bytes"], saved["lines"]
        return True

    def write(self, data: bytes, lines: int) -> None:
        assert self.fh is not None
        self.fh.write(data)
        self.digest.update(data)
        self.bytes += len(data)
        self.lines += lines

    def sync(self) -> dict[str, Any]:
        assert self.fh is not None
        self.fh.flush()
        os.fsync(self.fh.fileno())
        return {"bytes": self.bytes, "lines": self.lines, "sha256": self.digest.copy().hexdigest()}

    def close(self) -> None:
        """Close without caring whether the unflushed tail reaches the disk: only committed bytes
        count, and a failed write (full disk) must not turn into a second error here."""
        if self.fh is not None:
            fh, self.fh = self.fh, None
            with contextlib.suppress(OSError):
                fh.close()


class Checkpoint:
    """Batched, resumable output of one stage: JSONL files written as ``.partial`` plus one
    progress record, all renamed into place by ``finish``.

    ``key`` identifies the work (inputs, parameters); progress saved under another key is
    discarded and the stage starts over. ``commit(position, state)`` records where the stage is
    in its input and whatever it needs to continue (counters); ``open`` returns them on resume.
    """

    def __init__(self, paths: Sequence[Path], key: dict[str, Any]):
        self.outputs = [_Output(Path(p)) for p in paths]
        first = self.outputs[0].final
        self.progress_path = first.with_name(first.name + ".progress.json")
        self.key = json.loads(json.dumps(key, sort_keys=True, default=str))
        self.batches = 0

    def _kept(self) -> str:
        if not self.batches:
            return "; no batch of this stage was complete yet"
        return (f"; its {self.batches} complete batches are kept ({self.progress_path}): "
                "free space or fix the folder, then re-run the same command to resume")

    def open(self) -> dict[str, Any] | None:
        """Open the outputs; on a matching progress record resume and return its
        ``{"position", "state"}``, else start empty and return None."""
        with writing(self.progress_path, ""):
            self.outputs[0].final.parent.mkdir(parents=True, exist_ok=True)
            saved = self._saved()
            if saved is not None and all(o.restore(s) for o, s in zip(self.outputs, saved["outputs"], strict=True)):
                self.batches = saved["batches"]
                return {"position": saved["position"], "state": saved["state"]}
            for out in self.outputs:
                out.fresh()
            return None

    def _saved(self) -> dict[str, Any] | None:
        """The progress record if it is readable and made for this key; a torn or foreign one is ignored."""
        try:
            saved = json.loads(self.progress_path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
            return None
        if not isinstance(saved, dict) or saved.get("key") != self.key:
            return None
        if len(saved.get("outputs", [])) != len(self.outputs):
            return None
        return saved

    def write(self, index: int, text: str | bytes, lines: int = 1) -> None:
        """Append ``text``; bytes must be UTF-8 (pool workers send encoded text: a str crossing a
        process boundary is encoded and decoded once more on the way)."""
        out = self.outputs[index]
        with writing(out.partial, self._kept()):
            out.write(text if isinstance(text, bytes) else text.encode("utf-8"), lines)

    def commit(self, position: Any, state: dict[str, Any]) -> None:
        """Make everything written so far durable, then record it as the last complete batch."""
        with writing(self.progress_path, self._kept()):
            outputs = [out.sync() for out in self.outputs]
            self.batches += 1
            write_json(self.progress_path, {
                "key": self.key, "batches": self.batches, "position": position,
                "state": state, "outputs": outputs,
            })

    def finish(self) -> None:
        """Rename every output into place, then drop the progress record."""
        with writing(self.progress_path, self._kept()):
            for out in self.outputs:
                out.sync()
            self.close()
            for out in self.outputs:
                os.replace(out.partial, out.final)
            self.progress_path.unlink(missing_ok=True)

    def close(self) -> None:
        for out in self.outputs:
            out.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
