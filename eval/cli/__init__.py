"""The ``support-eval`` command line: each verb calls one stage function.

Exit codes: 0 done; 1 the data failed a gate (too much quarantined, a tier lost in compare, a category
demoted by monitor); 2 bad usage, config or input;
3 a bug (shown with its traceback).
Heavy libraries are imported inside the verbs so ``--help`` stays instant.
"""

from __future__ import annotations

from eval.cli import before  # noqa: F401  (registers the verbs up to the decision on the app)
from eval.cli import after  # noqa: F401  (then the verbs after it: --help lists them in this order)
from eval.cli.base import EXIT_BUG, EXIT_GATE, EXIT_INPUT, _user_errors, app, main

__all__ = ["EXIT_BUG", "EXIT_GATE", "EXIT_INPUT", "_user_errors", "app", "main"]
