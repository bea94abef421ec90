"""The run folder names every artifact once, and the stage registry speaks only of those."""

from __future__ import annotations

from pathlib import Path

from eval.run.folder import LISTED, NAMES, RunFolder
from eval.run.stages import STAGES


def test_every_artifact_has_its_own_name() -> None:
    assert len(set(NAMES.values())) == len(NAMES)
    folder = RunFolder(Path("run"))
    assert folder.items == Path("run/items.jsonl") and folder.path("blinding_audit") == Path("run/blinding_audit.json")
    assert set(LISTED) <= set(NAMES)


def test_the_registry_is_in_run_order_and_reads_only_what_an_earlier_stage_writes() -> None:
    assert list(STAGES) == ["ingest", "replay", "score", "ratings", "reviews", "judge", "decide", "report"]
    written: set[str] = set()
    for stage in STAGES.values():
        assert set(stage.reads) <= written, stage.name
        written |= set(stage.writes)
