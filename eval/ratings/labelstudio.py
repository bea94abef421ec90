"""Label Studio: a task import file and labeling config per packet, and reading its JSON export back.

Both packet kinds: paired tasks (X/Y, ``CONFIG``) and single-answer tasks (one answer,
``SINGLE_CONFIG``); an export of either is read back into the columns of its importer.

Reviewers who already work in Label Studio rate there. The labeling config names every control
after a Rating column (choice aliases carry the stored values), so an export maps back to the
Rating columns without guesswork. Label Studio is not a dependency: the import file, the config
and the export are plain JSON/XML, documented at https://labelstud.io/guide/export#Label-Studio-JSON-format.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from eval.errors import UserError

CONFIG = """<View>
  <Header value="Category: $category"/>
  <Header value="Ticket facts: $facts" size="6"/>
  <Text name="context" value="$context" granularity="paragraph"/>
  <View style="display: flex; gap: 1em;">
    <View style="flex: 1;">
      <Header value="Answer X"/>
      <Text name="answer_x" value="$answer_x"/>
      <Rating name="score_x" toName="answer_x" maxRating="5" required="true"/>
    </View>
    <View style="flex: 1;">
      <Header value="Answer Y"/>
      <Text name="answer_y" value="$answer_y"/>
      <Rating name="score_y" toName="answer_y" maxRating="5" required="true"/>
    </View>
  </View>
  <Header value="Which answer would you rather send?"/>
  <Choices name="preference" toName="context" choice="single" required="true" showInline="true">
    <Choice value="X is better" alias="x"/>
    <Choice value="Y is better" alias="y"/>
    <Choice value="Both good" alias="tie_good"/>
    <Choice value="Both bad" alias="tie_bad"/>
  </Choices>
  <Header value="Flags"/>
  <Choices name="flags" toName="context" choice="multiple" showInline="true">
    <Choice value="X acceptable to send" alias="acceptable_x"/>
    <Choice value="Y acceptable to send" alias="acceptable_y"/>
    <Choice value="X critical (would harm customer or company)" alias="critical_x"/>
    <Choice value="Y critical (would harm customer or company)" alias="critical_y"/>
  </Choices>
  <TextArea name="comment" toName="context" placeholder="Comment (optional)" maxSubmissions="1"/>
</View>
"""
SINGLE_CONFIG = """<View>
  <Header value="Category: $category"/>
  <Header value="Ticket facts: $facts" size="6"/>
  <Text name="context" value="$context" granularity="paragraph"/>
  <Header value="Answer"/>
  <Text name="answer" value="$answer"/>
  <Rating name="score" toName="answer" maxRating="5" required="true"/>
  <Header value="Flags"/>
  <Choices name="flags" toName="answer" choice="multiple" showInline="true">
    <Choice value="Acceptable to send" alias="acceptable"/>
    <Choice value="Critical (would harm customer or company)" alias="critical"/>
  </Choices>
  <TextArea name="comment" toName="answer" placeholder="Comment (optional)" maxSubmissions="1"/>
</View>
"""
ALIASES = dict(re.findall(r'<Choice value="([^"]+)" alias="([^"]+)"', CONFIG + SINGLE_CONFIG))
"""Choice label -> stored alias, for exports that carry the label instead of the alias."""
FLAGS = ("acceptable_x", "acceptable_y", "critical_x", "critical_y")
RATING_FIELDS = ("rating_id", "reviewer", "score_x", "score_y", "preference", *FLAGS, "comment", "seconds")
SINGLE_FLAGS = ("acceptable", "critical")
REVIEW_FIELDS = ("review_id", "reviewer", "score", *SINGLE_FLAGS, "comment", "seconds")


class LabelStudioError(UserError):
    """An export that is not Label Studio JSON; names the file and the task."""


def labeling_config() -> str:
    return CONFIG


def context_text(context: Sequence[tuple[str, str]]) -> str:
    """The conversation as one text block: one paragraph per turn, role first."""
    return "\n\n".join(f"{role}: {text}" for role, text in context)


def facts_text(facts: Sequence[Sequence[str]]) -> str:
    """Ticket facts on one line ("order_id: A-1; plan: pro"), for spreadsheets and Label Studio."""
    return "; ".join(f"{key}: {value}" for key, value in facts) or "none"


def tasks(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Label Studio tasks for one reviewer's packet rows (rating_id and reviewer ride along in data)."""
    return [
        {"data": {
            "rating_id": r["rating_id"], "reviewer": r["reviewer"], "position": r["position"],
            "category": r["category"], "context": context_text([(t["role"], t["text"]) for t in r["context"]]),
            "answer_x": r["answer_x"], "answer_y": r["answer_y"], "facts": facts_text(r.get("facts") or []),
        }}
        for r in rows
    ]


def single_tasks(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Label Studio tasks for one reviewer's single-answer rows (review_id and reviewer ride along in data)."""
    return [
        {"data": {
            "review_id": r["review_id"], "reviewer": r["reviewer"], "position": r["position"],
            "category": r["category"], "context": context_text([(t["role"], t["text"]) for t in r["context"]]),
            "answer": r["answer"], "facts": facts_text(r.get("facts") or []),
        }}
        for r in rows
    ]


def _value(result: dict[str, Any], where: str) -> Any:
    """The stored value of one result entry (rating number, choice aliases, or text)."""
    value = result.get("value")
    if not isinstance(value, dict):
        raise LabelStudioError(f"{where}: field 'value': expected an object, got {value!r}")
    kind = result.get("type")
    if kind == "rating":
        return value.get("rating")
    if kind == "choices":
        return [ALIASES.get(c, c) for c in value.get("choices") or []]
    if kind == "textarea":
        text = value.get("text") or []
        return "\n".join(text) if isinstance(text, list) else text
    raise LabelStudioError(f"{where}: field 'type': unexpected result type {kind!r}")


def _annotation_row(data: dict[str, Any], annotation: dict[str, Any], where: str) -> dict[str, Any]:
    """One annotation as the row of its importer: a single-answer task (``review_id`` in data) as a review."""
    single = "review_id" in data
    flags = SINGLE_FLAGS if single else FLAGS
    row: dict[str, Any] = {"review_id" if single else "rating_id": data.get("review_id" if single else "rating_id"),
                           "reviewer": data.get("reviewer")}
    row.update({f: False for f in flags})
    results = annotation.get("result")
    if not isinstance(results, list):
        raise LabelStudioError(f"{where}: field 'result': expected a list")
    for result in results:
        name = result.get("from_name")
        value = _value(result, f"{where}: result '{name}'")
        if name in ("score", "score_x", "score_y", "comment"):
            row[name] = value
        elif name == "preference":
            row[name] = value[0] if len(value) == 1 else value
        elif name == "flags":
            unknown = [v for v in value if v not in flags]
            if unknown:
                raise LabelStudioError(f"{where}: field 'flags': unknown choice(s) {unknown}")
            row.update({v: True for v in value})
    seconds = annotation.get("lead_time")
    row["seconds"] = round(float(seconds), 1) if isinstance(seconds, (int, float)) else None
    return row


def read_labelstudio_export(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(task number from 1, a dict with the Rating columns, or the Review columns for single-answer tasks)
    per annotation of a Label Studio JSON export.

    Values are passed on as entered (the importer validates them and rejects bad rows with the
    task number as the line). A task without a submitted annotation (none, or only skipped ones)
    yields a row with empty scores, like a blank CSV row, so an unrated task is never silently lost.
    """
    path = Path(path)
    try:
        export = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise LabelStudioError(f"{path}: not JSON: {exc}") from exc
    if not isinstance(export, list):
        raise LabelStudioError(f"{path}: expected a list of tasks (Label Studio 'JSON' export)")
    for n, task in enumerate(export, start=1):
        where = f"{path}: task {n}"
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise LabelStudioError(f"{where}: field 'data': missing; not a Label Studio task")
        data = task["data"]
        done = [a for a in task.get("annotations") or [] if not a.get("was_cancelled")]
        if not done:
            fields = REVIEW_FIELDS if "review_id" in data else RATING_FIELDS
            yield n, {fields[0]: data.get(fields[0]), "reviewer": data.get("reviewer"), **{f: None for f in fields[2:]}}
        for annotation in done:
            yield n, _annotation_row(data, annotation, where)
