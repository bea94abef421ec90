"""Another system's judge verdicts: the config, the import with its rejections, the judge stage and verb,
calibration from them, and the one table decide reads from either judge."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest
import yaml

from eval.config import JudgeConfig, PrecomputedJudge, RunConfig, load_config
from eval.judges import judge_table
from eval.judges.calibration import calibration_to_file
from eval.judges.pairwise import PairwiseVerdict
from eval.judges.precomputed import import_judge
from eval.records import AIAnswer, HumanAnswer, Item, Turn, UnblindedRating
from eval.run.folder import RunFolder
from eval.run.stages import run_stage

DATA = Path(__file__).parent / "data"
BASE = {"name": "j", "data": {"paths": ["tickets.jsonl"]}}


def items(folder: RunFolder, n: int = 4) -> list[str]:
    rows = [Item(item_id=f"T{i}#1", ticket_id=f"T{i}", turn_index=1, category="refund" if i % 2 else "billing",
                 context=[Turn(role="customer", text="Where is my refund?")],
                 human=HumanAnswer(text="It is processing.", author="agent_1"),
                 ai=AIAnswer(text="Your refund is on its way.", responder="precomputed")) for i in range(n)]
    folder.root.mkdir(parents=True, exist_ok=True)
    folder.items.write_text("".join(r.to_json() + "\n" for r in rows))
    return [r.item_id for r in rows]


def verdict(item_id: str, **kw: Any) -> dict[str, Any]:
    return {"item_id": item_id, "preference": "ai", "score_ai": 4, "score_human": 3, "critical_ai": False,
            "judge": "gpt-x", **kw}


def lines(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_config_reads_both_judge_kinds_and_an_old_endpoint_keeps_its_hash(tmp_path: Path) -> None:
    endpoint = RunConfig.model_validate({**BASE, "judge": {"base_url": "http://x", "model": "m"}})
    explicit = RunConfig.model_validate({**BASE, "judge": {"kind": "endpoint", "base_url": "http://x", "model": "m"}})
    assert isinstance(endpoint.judge, JudgeConfig) and endpoint.judge_endpoint is endpoint.judge
    assert endpoint.digest() == explicit.digest() and "kind" not in endpoint.model_dump()["judge"]
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({**BASE, "judge": {"kind": "precomputed", "path": "v.jsonl"}}))
    cfg = load_config(tmp_path / "c.yaml")
    assert isinstance(cfg.judge, PrecomputedJudge) and cfg.judge_endpoint is None
    assert cfg.resolve(cfg.judge.path) == (tmp_path / "v.jsonl").resolve()
    assert RunConfig.model_validate(cfg.model_dump()).judge == cfg.judge


@pytest.mark.parametrize("judge, message", [
    ({"kind": "precomputed"}, "judge.precomputed.path"),
    ({"kind": "precomputed", "path": "v.jsonl", "model": "m"}, "judge.precomputed.model"),
    ({"kind": "oracle", "path": "v.jsonl"}, "'oracle'"),
])
def test_bad_judge_sections_name_the_key(tmp_path: Path, judge: dict, message: str) -> None:
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({**BASE, "judge": judge}))
    with pytest.raises(ValueError, match=message):
        load_config(tmp_path / "c.yaml")


def test_import_keeps_good_rows_and_rejects_each_bad_kind_with_line_and_reason(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path / "run")
    ids = items(folder, 12)
    rows: list[Any] = [
        verdict(ids[0]), verdict(ids[1], preference="tie", score_ai=None, score_human=None, critical_ai=None),
        {"item_id": ids[2], "preference": "human", "judge": "gpt-x"},  # scores and critical are optional
        verdict("T99#1"), verdict(ids[3], preference="x"), verdict(ids[4], score_ai=6), verdict(ids[5], score_human=0),
        verdict(ids[6], score_ai="good"), verdict(ids[7], score_ai=True), verdict(ids[8], critical_ai="yes"),
        "{not json", "[1, 2]", {"item_id": ids[9], "preference": "ai"},
        verdict(ids[0]),  # an exact repeat: the first copy stays
        verdict(ids[10]), verdict(ids[10], preference="human"),  # a conflict: both go
    ]
    source = lines(tmp_path / "verdicts.jsonl", rows)
    summary = import_judge(source, folder.items, folder.judge, folder.judge_rejected)
    kept = [json.loads(x) for x in folder.judge.read_text().splitlines()]
    assert [v["item_id"] for v in kept] == ids[:3]
    assert kept[0]["category"] == "billing" and kept[0]["line"] == 1 and kept[2]["score_ai"] is None
    rejected = {(q["line"], q["field"], q["reason"]) for q in map(json.loads, folder.judge_rejected.read_text().splitlines())}
    assert rejected == {
        (4, "item_id", "unknown_item"), (5, "preference", "bad_preference"), (6, "score_ai", "score_out_of_range"),
        (7, "score_human", "score_out_of_range"), (8, "score_ai", "invalid_value"), (9, "score_ai", "invalid_value"),
        (10, "critical_ai", "invalid_value"), (11, "(record)", "invalid_json"), (12, "(record)", "not_an_object"),
        (13, "judge", "missing_field"), (14, "item_id", "duplicate"), (15, "item_id", "conflicting_duplicate"),
        (16, "item_id", "conflicting_duplicate"),
    }
    assert (summary.read, summary.kept, summary.rejected) == (16, 3, 13) and summary.read == summary.kept + summary.rejected
    assert summary.preferences == {"ai": 1, "human": 1, "tie": 1} and summary.by_reason["conflicting_duplicate"] == 2
    assert "16 judge verdicts read, 3 kept" in summary.text() and "9 of 12 items without a verdict" in summary.text()


def test_a_csv_file_reads_like_jsonl(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path / "run")
    ids = items(folder, 3)
    (tmp_path / "v.csv").write_text("item_id,preference,score_ai,score_human,critical_ai,judge\n"
                                    f"{ids[0]},ai,4,3,true,gpt-x\n{ids[1]},tie,,,,gpt-x\n{ids[2]},ai,9,3,false,gpt-x\n")
    summary = import_judge(tmp_path / "v.csv", folder.items, folder.judge, folder.judge_rejected)
    assert (summary.kept, summary.by_reason) == (2, {"score_out_of_range": 1})
    assert json.loads(folder.judge.read_text().splitlines()[0])["critical_ai"] is True


def _bar(name: str, total: int | None) -> Any:
    return nullcontext(lambda n=1: None)


def test_the_judge_stage_imports_verdicts_and_calibrates_them_against_reviewers(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path / "run")
    ids = items(folder, 40)
    lines(tmp_path / "v.jsonl", [verdict(i, preference="ai" if n % 4 else "human") for n, i in enumerate(ids)])
    ratings = [UnblindedRating(rating_id=f"r{n}{who}", item_id=i, ticket_id=i.split("#")[0],
                               category="refund" if n % 2 else "billing", reviewer=who, preference="ai")
               for n, i in enumerate(ids) for who in ("qa_1", "qa_2")]
    folder.ratings.write_text("".join(r.to_json() + "\n" for r in ratings))
    cfg = RunConfig.model_validate({**BASE, "judge": {"kind": "precomputed", "path": "v.jsonl", "min_items": 10},
                                    "source": str(tmp_path / "c.yaml")})
    result = run_stage("judge", cfg, folder, _bar)
    assert result["imported"]["kept"] == 40 and result["usable"] == ["refund"]
    assert len(folder.judge.read_text().splitlines()) == 40 and not folder.judge_pairwise.exists()
    cal = json.loads(folder.judge_calibration.read_text())
    # every 4th item (all even: billing) the judge prefers the human, reviewers all the AI
    assert cal["billing"]["judge_vs_reviewers"] == 0.5 and cal["refund"]["judge_vs_reviewers"] == 1.0
    assert cal["refund"]["flip_rate"] is None and cal["billing"]["leniency"] == -0.5
    assert not calibration_to_file(folder.root, 30)["refund"].usable  # 20 rated items < 30


def test_an_unchanged_import_is_not_redone_and_a_changed_source_is(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path / "run")
    ids = items(folder, 4)
    source = lines(tmp_path / "v.jsonl", [verdict(i) for i in ids])
    cfg = RunConfig.model_validate({**BASE, "judge": {"kind": "precomputed", "path": "v.jsonl"},
                                    "source": str(tmp_path / "c.yaml")})
    first = run_stage("judge", cfg, folder, _bar)
    written = {p.name: p.stat().st_mtime_ns for p in (folder.judge, folder.judge_rejected)}
    assert run_stage("judge", cfg, folder, _bar) == first
    assert {p.name: p.stat().st_mtime_ns for p in (folder.judge, folder.judge_rejected)} == written
    lines(source, [verdict(i, preference="tie") for i in ids[:3]])
    assert run_stage("judge", cfg, folder, _bar)["imported"]["preferences"] == {"ai": 0, "human": 0, "tie": 3}
    assert len(folder.judge.read_text().splitlines()) == 3


def test_judge_table_from_imported_verdicts(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path)
    ids = items(folder, 3)
    assert judge_table(folder) is None
    lines(tmp_path / "v.jsonl", [verdict(ids[0], critical_ai=True), {"item_id": ids[1], "preference": "tie", "judge": "j"},
                                 verdict(ids[2], preference="human", score_ai=2.5)])
    import_judge(tmp_path / "v.jsonl", folder.items, folder.judge, folder.judge_rejected)
    table = judge_table(folder)
    assert table is not None and list(table.columns) == ["item_id", "judge_win", "judge_score_ai",
                                                         "judge_score_human", "judge_critical_ai"]
    rows = table.to_dict("records")
    assert rows[0] == {"item_id": ids[0], "judge_win": 1.0, "judge_score_ai": 4.0, "judge_score_human": 3.0,
                       "judge_critical_ai": 1.0}
    assert rows[1]["judge_win"] == 0.5 and all(math.isnan(rows[1][c]) for c in
                                                ("judge_score_ai", "judge_score_human", "judge_critical_ai"))
    assert (rows[2]["judge_win"], rows[2]["judge_score_ai"], rows[2]["judge_critical_ai"]) == (0.0, 2.5, 0.0)
    assert all(table[c].dtype == float for c in table.columns[1:])


def test_judge_table_from_the_pairwise_judge_with_errors_as_nan(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path)
    verdicts = [PairwiseVerdict(item_id=f"T{n}#1", category="c", ai_first=p, human_first=p, preference=p,
                                flipped=False, reasons=[], error=None if p else "HTTP 500")
                for n, p in enumerate(["ai", "human", None, "tie"])]
    folder.judge_pairwise.write_text("".join(v.model_dump_json() + "\n" for v in verdicts))
    table = judge_table(folder)
    assert table is not None and table["item_id"].tolist() == ["T0#1", "T1#1", "T2#1", "T3#1"]
    assert table["judge_win"].tolist()[:2] == [1.0, 0.0] and math.isnan(table["judge_win"][2])
    assert table["judge_win"][3] == 0.5 and table[["judge_score_ai", "judge_critical_ai"]].isna().all().all()
    folder.judge_pairwise.write_text(verdicts[0].model_dump_json() + "\n{cut off\n")
    with pytest.raises(ValueError, match="judge_pairwise.jsonl:2: "):
        judge_table(folder)
    folder.judge.write_text("")  # imported verdicts, even none, are the run's judge
    assert judge_table(folder) is not None and len(judge_table(folder)) == 0  # type: ignore[arg-type]


def test_judge_verb_imports_a_precomputed_file_without_a_model(tmp_path: Path) -> None:
    config = yaml.safe_load((DATA / "precomputed.yaml").read_text())
    config["data"]["paths"] = [str(DATA / "tickets.jsonl")]
    config["replay"]["responder"]["path"] = str(DATA / "ai_answers.jsonl")
    config["rubrics"]["path"] = str(DATA / "rubrics")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    run = tmp_path / "run"
    cli = [sys.executable, "-m", "eval"]
    assert subprocess.run([*cli, "run", str(tmp_path / "config.yaml"), "--out", str(run)],
                          capture_output=True, timeout=300).returncode == 0
    ids = [json.loads(x)["item_id"] for x in (run / "items.jsonl").read_text().splitlines()]
    lines(tmp_path / "verdicts.jsonl", [verdict(i) for i in ids] + [verdict("nope#1")])
    config["judge"] = {"kind": "precomputed", "path": "verdicts.jsonl"}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    res = subprocess.run([*cli, "judge", str(run)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert f"{len(ids) + 1} judge verdicts read, {len(ids)} kept" in res.stdout and "unknown_item: 1" in res.stdout
    assert str(run / "judge.jsonl") in res.stdout and str(run / "judge.rejected.jsonl") in res.stdout
    assert len((run / "judge.jsonl").read_text().splitlines()) == len(ids)
