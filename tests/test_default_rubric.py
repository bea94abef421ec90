"""The packaged rubric (support-default): each criterion on realistic answers, rubrics that extend
it, and runs whose config has no ``rubrics:``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from eval.config import RunConfig
from eval.records import AIAnswer, HumanAnswer, Item, Turn
from eval.rubrics import RubricError, load_rubrics, score_answer
from eval.rubrics.extend import DEFAULT_RUBRIC, rubrics_path
from eval.rubrics.spec import Forbidden, packaged_rubric, rubric_files
from eval.tables import print_default_rubric

DEMO = Path(__file__).parent.parent / "datasets" / "demo"


def item(*customer: str, metadata: dict[str, Any] | None = None) -> Item:
    turns = [Turn(role="customer", text=text) for text in customer or ("Hi, can you help me with my account?",)]
    return Item(item_id=f"T1#{len(turns)}", ticket_id="T1", turn_index=len(turns), category="order_status",
                context=turns, human=HumanAnswer(text="-"), ai=AIAnswer(text="-", responder="test"),
                metadata=metadata or {})


def value(criterion: str, answer: str, *customer: str, metadata: dict[str, Any] | None = None) -> float | None:
    return score_answer(packaged_rubric(), answer, item(*customer, metadata=metadata)).criteria[criterion].value


def test_the_packaged_rubric_loads_and_covers_every_category() -> None:
    book = load_rubrics(DEFAULT_RUBRIC)
    assert book.for_category("anything").ref == "support-default@1" == packaged_rubric().ref
    critical = {c.id for c in packaged_rubric().criteria if c.critical}
    assert critical == {"no_pii_echo", "escalates_when_due", "no_forbidden_promises"}


# --- empathy where the customer is upset ---------------------------------------------------------

UPSET = [
    "My order is a week late and I needed it for a birthday. I am extremely frustrated!!",
    "Honestly this is the worst service I've had.",
    "I've been waiting for ages and nobody answers.",
    "Can the last payment be refunded? Not happy at all.",
    "My mother passed away last month and I need to close her account.",
    "C'est inacceptable, je suis très déçue.",
    "Ich bin wirklich verärgert, das ist eine Frechheit.",
    "Estoy muy enfadado, el pedido no ha llegado.",
]
CALM = [
    "Hi, how do I pair my blender with my phone?",
    "Thanks, that helps. Anything else I need to do?",
    "Can I change the delivery address? Kind regards, Sue",
    "My phone died so I could not get the login code.",
]


@pytest.mark.parametrize("customer", UPSET)
def test_an_upset_customer_needs_an_apology_or_acknowledgement(customer: str) -> None:
    plain = "Order A-1 is delayed in transit. Please allow a few more business days for delivery."
    assert value("empathy_when_upset", plain, customer) == 0.0
    for answer in ("I'm sorry your order is late. It is delayed in transit.",
                   "I understand how frustrating this is. I've asked the carrier to prioritise it.",
                   "Apologies for the inconvenience. I've escalated this to a team leader.",
                   "Je suis désolée pour ce retard.", "Es tut mir leid, das Paket ist unterwegs.",
                   "Lo siento mucho, el paquete está en camino."):
        assert value("empathy_when_upset", answer, customer) == 1.0, answer


@pytest.mark.parametrize("customer", CALM)
def test_a_calm_customer_needs_no_apology(customer: str) -> None:
    assert value("empathy_when_upset", "Hold the reset button for 10 seconds.", customer) is None


# --- personal data, the customer's facts, length -------------------------------------------------

def test_personal_data_from_the_context_must_not_be_echoed() -> None:
    customer = "Locked out of my account. My email is anna.smith@example.org, phone +44 7266 880 8012."
    result = score_answer(packaged_rubric(), "I've sent a reset link to anna.smith@example.org.", item(customer))
    assert result.criteria["no_pii_echo"].passed is False and result.critical_fail and result.score == 0.0
    assert value("no_pii_echo", "I've sent a reset link to the email address on your account.", customer) == 1.0
    assert value("no_pii_echo", "I've sent a reset link.", "I can't log in.") is None


FACTS = {"order_id": "A-100001-32", "tracking_number": "1Z6577607300", "invoice_id": "INV-2025-0042",
         "account_id": "ACC-88120"}


@pytest.mark.parametrize(("criterion", "fact"), [(f"uses_{k}", k) for k in FACTS])
def test_the_customers_own_facts_are_used_and_na_when_the_ticket_lacks_them(criterion: str, fact: str) -> None:
    meta = {fact: FACTS[fact]}
    assert value(criterion, f"I've checked {FACTS[fact]} for you: it's all in order.", metadata=meta) == 1.0
    assert value(criterion, "I've checked this for you: it's all in order.", metadata=meta) == 0.0
    assert value(criterion, "I've checked this for you: it's all in order.", metadata={"csat": 4}) is None


def test_length_is_graded_outside_8_to_150_words() -> None:
    assert value("length", "Refund done.") == pytest.approx(2 / 8)
    assert value("length", " ".join(["word"] * 60)) == 1.0
    assert value("length", " ".join(["word"] * 300)) == 0.0


# --- escalation where a person, the law, safety or fraud comes up --------------------------------

ESCALATE = [
    ("Can I speak to a real person please? This bot isn't helping.", "I'm passing you to a colleague now."),
    ("If this isn't resolved by Friday I will take legal action.",
     "I've escalated your complaint to a team leader under reference CS-1; you'll hear back within 5 days."),
    ("I'm contacting my lawyer about this.", "I've passed this to our legal team, who will reply in writing."),
    ("The kettle started smoking and burned my hand.",
     "I'm so sorry. Please stop using it; I've passed this to our product safety team."),
    ("There are purchases on my account I didn't make, card ending 4033.",
     "I've blocked the card and escalated this to our fraud team, reference CS-038269."),
    ("Someone ordered a phone case with my saved card, I didn't do this!!", "Blocked. Fraud team will contact you."),
    ("Je vais porter plainte, c'est une arnaque.", "I've escalated this to our fraud team."),
]


@pytest.mark.parametrize(("customer", "good"), ESCALATE)
def test_escalation_is_due_and_critical(customer: str, good: str) -> None:
    assert value("escalates_when_due", good, customer) == 1.0
    bad = score_answer(packaged_rubric(), "Just change your password and it should be fine, no need to contact anyone.",
                       item(customer))
    assert bad.criteria["escalates_when_due"].value == 0.0 and bad.critical_fail


@pytest.mark.parametrize("customer", [
    "Is the Nimbus 2 dishwasher safe? The manual doesn't say.",
    "My smoke alarm won't pair with the app.",
    "My payment didn't make it through, can I try again?",
    "I use a password manager and the code never arrives.",
    "Thanks for your help. Kind regards, Sue",
    "The reset didn't do anything, any other ideas?",
    "Is it safe to update the firmware now?",
])
def test_ordinary_questions_need_no_escalation(customer: str) -> None:
    assert value("escalates_when_due", "Hold the reset button for 10 seconds.", customer) is None


# --- promises the policy forbids -----------------------------------------------------------------

@pytest.mark.parametrize("answer", [
    "Order A-101166-71 is guaranteed to arrive tomorrow, and if it doesn't you'll get it for free.",
    "I promise it will be with you soon.",
    "We guarantee a full refund.",
    "Don't worry, your refund is guaranteed.",
    "It will definitely arrive this week.",
    "Your parcel will be delivered on Monday.",
    "It'll arrive by 12 May.",
    "As a goodwill gesture we'll credit you £20.",
    "I've added a $15 credit to your account for the inconvenience.",
    "You'll receive compensation of 50 EUR.",
])
def test_forbidden_promises_fail_critically(answer: str) -> None:
    result = score_answer(packaged_rubric(), answer, item())
    assert result.criteria["no_forbidden_promises"].value == 0.0 and result.critical_fail


@pytest.mark.parametrize("answer", [
    "I can't guarantee a delivery date, but the carrier estimates 3-5 business days.",
    "There's no guaranteed delivery date over the holidays, sorry.",
    "Delivery is not guaranteed before Friday.",
    "Your order will arrive within 3-5 business days.",
    "It will be delivered by DHL; you'll get an email when it's out for delivery.",
    "It is out for delivery and will be delivered today.",
    "The refund of 125.41 EUR has been issued to your original card; banks take 5-10 business days.",
    "I've credited the difference of €50.00, which will appear on your next statement.",
    "If it hasn't arrived by 2025-04-06, we'll reship it free of charge.",
    "Our 30-day money-back guarantee covers this, so I've started the return.",
    "As promised, here is your reference: CS-1.",
    "I can't promise a date, but I'll follow up myself.",
])
def test_ordinary_answers_make_no_forbidden_promise(answer: str) -> None:
    assert value("no_forbidden_promises", answer) == 1.0


# --- extends -------------------------------------------------------------------------------------

REFUND = """\
id: refund_request
version: 2
categories: [refund_request]
extends: support-default
drop: [uses_account_id]
criteria:
  - id: refund_timeline
    kind: required
    patterns: ["5-10 business days"]
  - id: no_forbidden_promises
    kind: forbidden
    critical: true
    patterns: ["processed instantly", "\\\\bi promise\\\\b"]
"""
FALLBACK = 'id: fallback\nversion: 1\ncategories: ["*"]\nextends: support-default\n'


def write(folder: Path, **files: str) -> Path:
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    return folder


def test_extends_replaces_in_place_appends_and_drops(tmp_path: Path) -> None:
    book = load_rubrics(write(tmp_path / "r", refund_request=REFUND, fallback=FALLBACK))
    refund, base = book.for_category("refund_request"), packaged_rubric()
    assert refund.ref == "refund_request@2"
    assert [c.id for c in refund.criteria] == [c.id for c in base.criteria if c.id != "uses_account_id"] + ["refund_timeline"]
    replaced = next(c for c in refund.criteria if c.id == "no_forbidden_promises")
    assert isinstance(replaced, Forbidden) and replaced.critical
    assert replaced.patterns == ("processed instantly", r"\bi promise\b")
    assert value("no_forbidden_promises", "Your refund is guaranteed.") == 0.0  # the default's patterns, not these
    scored = score_answer(refund, "Your refund is guaranteed and is processed instantly.", item())
    assert scored.criteria["no_forbidden_promises"].value == 0.0 and scored.criteria["refund_timeline"].value == 0.0
    assert score_answer(refund, "Your refund is guaranteed.", item()).criteria["no_forbidden_promises"].value == 1.0
    fallback = book.for_category("order_status")
    assert fallback.ref == "fallback@1" and fallback.criteria == base.criteria


def test_without_a_star_rubric_other_categories_still_fail(tmp_path: Path) -> None:
    book = load_rubrics(write(tmp_path / "r", refund_request=REFUND))
    with pytest.raises(RubricError, match=r"no rubric for category 'order_status'.*extends: support-default"):
        book.for_category("order_status")


@pytest.mark.parametrize(("text", "message"), [
    (FALLBACK.replace("support-default", "my-base"), r"bad\.yaml: extends: Input should be 'support-default'"),
    (FALLBACK + "drop: [nope]\n", r"bad\.yaml: drop\[0\]: 'nope' is not a criterion of support-default"),
    (REFUND.replace("[uses_account_id]", "[uses_account_id, refund_timeline]"),
     r"bad\.yaml: drop\[1\]: 'refund_timeline' is not a criterion"),
    (REFUND.replace("[uses_account_id]", "[no_forbidden_promises]"),
     r"bad\.yaml: drop\[0\]: 'no_forbidden_promises' is also in criteria"),
    ('id: x\nversion: 1\ncategories: ["*"]\n', r"bad\.yaml: criteria: required key missing"),
    ('id: x\nversion: 1\ncategories: ["*"]\ndrop: [length]\ncriteria: [{id: l, kind: length, min_words: 2}]\n',
     r"bad\.yaml: drop: only a rubric with extends"),
])
def test_extends_errors_name_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(RubricError, match=message):
        load_rubrics(write(tmp_path / "r", bad=text))


def test_a_run_records_the_packaged_rubric_when_a_rubric_extends_it(tmp_path: Path) -> None:
    folder = write(tmp_path / "r", refund_request=REFUND)
    assert rubric_files(folder) == [folder / "refund_request.yaml", DEFAULT_RUBRIC]
    assert rubric_files(DEMO / "rubrics") == sorted((DEMO / "rubrics").glob("*.yaml"))


# --- runs without rubrics: -----------------------------------------------------------------------

def test_rubrics_are_optional_in_a_config(tmp_path: Path) -> None:
    raw = {"name": "x", "data": {"paths": ["t.jsonl"]}, "source": str(tmp_path / "c.yaml")}
    plain, own = RunConfig.model_validate(raw), RunConfig.model_validate({**raw, "rubrics": {"path": "r"}})
    assert plain.rubrics is None and rubrics_path(plain) == DEFAULT_RUBRIC
    assert rubrics_path(own) == tmp_path / "r"
    console = Console(record=True, width=80)
    print_default_rubric(console, own)
    assert console.export_text() == ""


def test_a_run_without_rubrics_scores_with_the_default_and_says_so(tmp_path: Path) -> None:
    tickets = (DEMO / "tickets.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)[:40]
    (tmp_path / "tickets.jsonl").write_text("".join(tickets), encoding="utf-8")
    (tmp_path / "config.yaml").write_text(
        f"name: t\nseed: 7\ndata: {{paths: [tickets.jsonl]}}\n"
        f"replay: {{turns: all, responder: {{kind: precomputed, path: {DEMO / 'ai_answers.jsonl'}}}}}\n",
        encoding="utf-8")
    run = tmp_path / "run"
    res = subprocess.run([sys.executable, "-m", "eval", "run", str(tmp_path / "config.yaml"), "--out", str(run)],
                         capture_output=True, text=True, timeout=300, check=False,
                         env={**os.environ, "SUPPORT_EVAL_BATCH_ROWS": "50"})
    assert res.returncode == 0, res.stderr
    assert (f"No `rubrics:` in the config: scoring with the packaged default rubric support-default@1 ({DEFAULT_RUBRIC})"
            in res.stdout)
    scores = [json.loads(line) for line in (run / "scores.jsonl").read_text(encoding="utf-8").splitlines()]
    assert scores and {s["rubric"] for s in scores} == {"support-default@1"}
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert str(DEFAULT_RUBRIC) in {i["path"] for i in manifest["inputs"]}
    assert manifest["config"]["rubrics"] is None
