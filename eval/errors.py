"""One base for the errors a user can fix; anything else is a bug.

The CLI turns a ``UserError`` into one red line and exit code 2. Every other exception that
escapes a stage is a fault of this package (or of a responder breaking its contract) and is
shown with its traceback and exit code 3, so a bug is never mistaken for bad input. The
location fields let callers of the Python API point at the problem without parsing messages;
the message already names them for people.
"""

from __future__ import annotations

from pathlib import Path


class UserError(ValueError):
    """Bad input, config or usage, named by file, line and field where they are known."""

    file: str | None = None
    line: int | None = None
    field: str | None = None

    def __init__(self, message: str, *, file: str | Path | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        super().__init__(message)
        self.file = None if file is None else str(file)
        self.line = line
        self.field = field


class UsageError(UserError):
    """A command-line option or API argument out of its range."""


class MissingInput(UserError, FileNotFoundError):
    """A file a stage reads is not there (usually: an earlier stage has not run)."""


class GateFailed(Exception):
    """The data failed a gate the user set (e.g. too much quarantined): exit code 1, no traceback."""
