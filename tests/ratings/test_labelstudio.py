"""Label Studio: the labeling config matches the tasks, and a JSON export reads back into Rating columns."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from eval.ratings.labelstudio import LabelStudioError, labeling_config, read_labelstudio_export, tasks
from eval.records import Rating

ROW = {"rating_id": "r00000000aa", "reviewer": "qa_03", "position": 1, "category": "refund_request",
       "context": [{"role": "customer", "text": "Where is my refund?"}, {"role": "agent", "text": "Checking."}],
       "answer_x": "It is on its way.", "answer_y": "Wait."}


def annotation(*results: dict, lead_time: float = 62.34, cancelled: bool = False) -> dict:
    return {"id": 7, "completed_by": 1, "was_cancelled": cancelled, "lead_time": lead_time, "result": list(results)}


def rating(name: str, value: int) -> dict:
    return {"from_name": name, "to_name": name.replace("score", "answer"), "type": "rating", "value": {"rating": value}}


def choices(name: str, *values: str) -> dict:
    return {"from_name": name, "to_name": "context", "type": "choices", "value": {"choices": list(values)}}


def comment(text: str) -> dict:
    return {"from_name": "comment", "to_name": "context", "type": "textarea", "value": {"text": [text]}}


def export_file(tmp_path: Path, exported: list) -> Path:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(exported))
    return path


def test_config_is_xml_whose_controls_are_the_rating_columns_and_whose_variables_are_task_fields() -> None:
    root = ET.fromstring(labeling_config())
    controls = {el.get("name"): el for el in root.iter() if el.tag in ("Rating", "Choices", "TextArea")}
    assert set(controls) == {"score_x", "score_y", "preference", "flags", "comment"}
    assert {c.get("alias") for c in controls["preference"]} == {"x", "y", "tie_good", "tie_bad"}
    assert {c.get("alias") for c in controls["flags"]} == {"acceptable_x", "acceptable_y", "critical_x", "critical_y"}
    assert controls["score_x"].get("maxRating") == "5"
    variables = set(re.findall(r"\$(\w+)", labeling_config()))
    data = tasks([ROW])[0]["data"]
    assert variables <= set(data)
    assert data["context"] == "customer: Where is my refund?\n\nagent: Checking."
    targets = {el.get("toName") for el in controls.values()}
    assert targets <= {el.get("name") for el in root.iter("Text")}


def test_an_export_reads_back_into_valid_ratings(tmp_path: Path) -> None:
    task = {"id": 1, "data": tasks([ROW])[0]["data"], "annotations": [annotation(
        rating("score_x", 4), rating("score_y", 2), choices("preference", "x"),
        choices("flags", "acceptable_x", "critical_y"), comment("Y is rude"))]}
    rows = list(read_labelstudio_export(export_file(tmp_path, [task])))
    assert rows == [(1, {"rating_id": "r00000000aa", "reviewer": "qa_03", "score_x": 4, "score_y": 2,
                         "preference": "x", "acceptable_x": True, "acceptable_y": False, "critical_x": False,
                         "critical_y": True, "comment": "Y is rude", "seconds": 62.3})]
    Rating.model_validate(rows[0][1])


def test_choice_labels_are_mapped_to_their_aliases(tmp_path: Path) -> None:
    task = {"data": tasks([ROW])[0]["data"], "annotations": [annotation(
        rating("score_x", 3), rating("score_y", 3), choices("preference", "Both bad"),
        choices("flags", "Y acceptable to send"))]}
    (_, row), = read_labelstudio_export(export_file(tmp_path, [task]))
    assert row["preference"] == "tie_bad" and row["acceptable_y"] is True


def test_unrated_and_skipped_tasks_come_back_as_empty_rows_not_silently_dropped(tmp_path: Path) -> None:
    data = tasks([ROW])[0]["data"]
    exported = [{"data": data, "annotations": []},
                {"data": {**data, "rating_id": "r2"}, "annotations": [annotation(rating("score_x", 5), cancelled=True)]}]
    rows = list(read_labelstudio_export(export_file(tmp_path, exported)))
    assert [(n, r["rating_id"], r["score_x"], r["preference"]) for n, r in rows] == [
        (1, "r00000000aa", None, None), (2, "r2", None, None)]


def test_two_annotations_of_one_task_are_both_passed_on_for_the_importer_to_judge(tmp_path: Path) -> None:
    task = {"data": tasks([ROW])[0]["data"], "annotations": [
        annotation(rating("score_x", 4), rating("score_y", 2), choices("preference", "x")),
        annotation(rating("score_x", 1), rating("score_y", 2), choices("preference", "y"))]}
    rows = list(read_labelstudio_export(export_file(tmp_path, [task])))
    assert [r["score_x"] for _, r in rows] == [4, 1]


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "not JSON"),
    ('{"data": {}}', "expected a list of tasks"),
    ('[{"id": 1}]', "task 1: field 'data'"),
    ('[{"data": {"rating_id": "r"}, "annotations": [{"result": [{"from_name": "flags", "type": "choices", '
     '"value": {"choices": ["maybe"]}}]}]}]', "task 1: field 'flags': unknown choice"),
    ('[{"data": {"rating_id": "r"}, "annotations": [{"result": [{"from_name": "score_x", "type": "rating", '
     '"value": 4}]}]}]', "task 1: result 'score_x': field 'value'"),
])
def test_malformed_exports_name_the_file_task_and_field(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(LabelStudioError, match=re.escape(message)) as err:
        list(read_labelstudio_export(path))
    assert str(path) in str(err.value)


def test_a_label_studio_export_imports_and_unblinds_like_a_jsonl_file(tmp_path: Path) -> None:
    from eval.ratings import import_ratings
    from eval.records import AIAnswer, BlindKey, HumanAnswer, Item, Turn
    from eval.store import write_jsonl

    item = Item(item_id="T1#1", ticket_id="T1", turn_index=1, category="refund_request",
                context=[Turn(role="customer", text="Where is my refund?")],
                human=HumanAnswer(text="Wait."), ai=AIAnswer(text="It is on its way.", responder="precomputed"))
    write_jsonl(tmp_path / "items.jsonl", [item])
    write_jsonl(tmp_path / "key.jsonl", [BlindKey(rating_id="r00000000aa", item_id="T1#1", x="ai", y="human")])
    rated = {"data": tasks([ROW])[0]["data"], "annotations": [annotation(
        rating("score_x", 4), rating("score_y", 2), choices("preference", "x"), choices("flags", "acceptable_x"))]}
    unrated = {"data": {**tasks([ROW])[0]["data"], "rating_id": "r00000000bb"}, "annotations": []}
    summary = import_ratings([export_file(tmp_path, [rated, unrated])], tmp_path / "key.jsonl",
                             tmp_path / "items.jsonl", tmp_path / "ratings.jsonl")
    assert (summary.read, summary.kept, summary.rejected) == (2, 1, 1)
    (out,) = [json.loads(x) for x in (tmp_path / "ratings.jsonl").read_text().splitlines()]
    assert (out["score_ai"], out["score_human"], out["preference"], out["acceptable_ai"]) == (4, 2, "ai", True)
