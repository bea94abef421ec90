"""The run folder names every artifact once, and the stage registry speaks only of those."""

from __future__ import annotations

from pathlib import Path

from eval.run.folder import LISTED, NAMES, RunFolder
from eval.run.manifest import completed_stage, stage_files, update_manifest
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


def test_a_changed_tickets_file_makes_decide_run_again(tmp_path: Path) -> None:
    """decide reads tickets.jsonl (covariates of unpaired reviews, weekly volume), so a finished decide whose
    tickets changed since is not skipped; without tickets.jsonl it still runs."""
    folder, decide = RunFolder(tmp_path), STAGES["decide"]
    assert "tickets" in decide.optional
    for name in ("items", "tickets", *decide.writes):
        folder.path(name).parent.mkdir(parents=True, exist_ok=True)
        folder.path(name).write_text("{}\n", encoding="utf-8")
    update_manifest(folder, stages={"decide": {"summary": {}, "files": stage_files(folder, decide.reads, decide.writes)}})
    assert completed_stage(folder, "decide", decide.reads, decide.writes) is not None
    folder.tickets.write_text('{"ticket_id": "T1"}\n', encoding="utf-8")
    assert completed_stage(folder, "decide", decide.reads, decide.writes) is None
