"""The kept-id index behind duplicate detection."""

from __future__ import annotations

import sqlite3

import pytest

from eval.ingest.validate import KeptIds


def test_claim_names_the_first_source_and_line() -> None:
    with KeptIds(["a.jsonl", "b.csv"]) as ids:
        assert ids.claim("T1", 0, 7) is None
        assert ids.claim("T2", 1, 2**39) is None
        assert ids.claim("t1", 1, 3) is None
        again = ids.claim("T1", 1, 9)
        far = ids.claim("T2", 0, 1)
    assert again is not None and far is not None
    assert (again.reason, again.field) == ("duplicate_ticket_id", "ticket_id")
    assert again.detail == "ticket_id 'T1' already kept from a.jsonl line 7"
    assert far.detail == f"ticket_id 'T2' already kept from b.csv line {2**39}"


def test_ids_are_compared_exactly() -> None:
    """Ids differing only after a NUL, in case or by trailing space are different tickets."""
    with KeptIds(["a.jsonl"]) as ids:
        claims = [ids.claim(t, 0, n) for n, t in enumerate(["a\x00b", "a\x00c", "a", "A", "a ", "é"], start=1)]
        assert claims == [None] * 6
        assert ids.claim("a\x00b", 0, 9) is not None


def test_closed_after_the_block() -> None:
    with KeptIds(["a.jsonl"]) as ids:
        ids.claim("T1", 0, 1)
    with pytest.raises(sqlite3.ProgrammingError):
        ids.claim("T2", 0, 2)
