"""The answer form built from an interrupt request's schema, without Streamlit: its fields, the
decision buttons, the answer built from the operator's entries, and validation naming the field."""

from __future__ import annotations

from enum import Enum
from typing import Literal

import pytest
from pydantic import Field

from console.answer_form import answer_errors, answer_fields, build_answer, read_request
from reference_agents.common.hitl import ReasonText, ReviewAnswer, build_request
from reference_agents.compliance_monitoring.review import answer_model


class UnderwriterAnswer(ReviewAnswer):
    decision: Literal["approve", "decline"]


def _request(model, **context) -> dict:
    """A stored interrupt payload (``runs.interrupt``) for ``model``, as the agents send it."""
    reasons = [ReasonText(code="DTI_HIGH", text="Debt-to-income above 45% needs an underwriter.")]
    return build_request("credit_referral", "Approve or decline?", model, context, reasons).model_dump(mode="json")


def test_one_input_per_property_but_decision_with_required_marked():
    request = read_request(_request(UnderwriterAnswer, loan_amnt=48000))
    assert request.decisions == ["approve", "decline"]  # one button each
    assert request.question == "Approve or decline?" and request.context == {"loan_amnt": 48000}
    assert [(r.code, r.text) for r in request.reasons] == [("DTI_HIGH", "Debt-to-income above 45% needs an underwriter.")]
    reviewer, note = answer_fields(request.answer_schema)
    assert (reviewer.name, reviewer.required, reviewer.choices, reviewer.label) == ("reviewer", True, (), "Reviewer (required)")
    assert reviewer.help == "Who decides (user id or e-mail)."
    assert (note.name, note.required, note.choices, note.label) == ("note", False, (), "Note")


def test_enum_and_const_candidates_become_choices_without_null():
    many = answer_fields(read_request(_request(answer_model(["OFAC-1", "OFAC-2"]))).answer_schema)
    assert [f.name for f in many] == ["reviewer", "note", "reference_number"]
    assert (many[2].choices, many[2].required, many[2].parse_json) == (("OFAC-1", "OFAC-2"), False, False)
    [*_, single] = answer_fields(read_request(_request(answer_model(["OFAC-9"]))).answer_schema)
    assert single.choices == ("OFAC-9",)  # pydantic writes "const" for a single candidate


class Channel(str, Enum):
    PHONE = "phone"
    BRANCH = "branch"


class CallbackAnswer(ReviewAnswer):
    decision: Literal["call", "skip"]
    channel: Channel  # pydantic puts the enum under "$defs"
    attempts: int = Field(ge=1)


def test_referenced_enums_are_choices_and_non_string_text_is_read_as_json():
    schema = read_request(_request(CallbackAnswer)).answer_schema
    fields = {f.name: f for f in answer_fields(schema)}
    assert (fields["channel"].choices, fields["channel"].required) == (("phone", "branch"), True)
    assert fields["attempts"].parse_json and not fields["reviewer"].parse_json
    answer = build_answer(list(fields.values()), "call", {"reviewer": "uma", "channel": "phone", "attempts": " 2 "})
    assert answer == {"decision": "call", "reviewer": "uma", "channel": "phone", "attempts": 2}
    assert answer_errors(schema, answer) == {}
    bad = build_answer(list(fields.values()), "call", {"reviewer": "uma", "channel": "phone", "attempts": "twice"})
    assert set(answer_errors(schema, bad)) == {"attempts"}


def test_the_answer_has_the_pressed_decision_and_only_what_was_entered():
    fields = answer_fields(read_request(_request(answer_model(["OFAC-1", "OFAC-2"]))).answer_schema)
    entries = {"reviewer": "  ana.analyst ", "note": "", "reference_number": None}
    assert build_answer(fields, "false_positive", entries) == {"decision": "false_positive", "reviewer": "ana.analyst"}
    entries = {"reviewer": "ana", "note": "same DOB", "reference_number": "OFAC-2"}
    assert build_answer(fields, "true_match", entries) == {"decision": "true_match", "reviewer": "ana", "note": "same DOB",
                                                           "reference_number": "OFAC-2"}


def test_errors_name_each_offending_field():
    schema = read_request(_request(answer_model(["OFAC-1", "OFAC-2"]))).answer_schema
    assert answer_errors(schema, {"decision": "true_match", "reviewer": "ana", "reference_number": "OFAC-2"}) == {}
    assert answer_errors(schema, {"decision": "true_match"}) == {"reviewer": "required"}
    errors = answer_errors(schema, {"decision": "maybe", "reviewer": "ana", "reference_number": "OFAC-7"})
    assert set(errors) == {"decision", "reference_number"}
    assert "'maybe' is not one of ['true_match', 'false_positive']" in errors["decision"]
    assert answer_errors(schema, {"decision": "true_match", "reviewer": "ana", "colour": "red"}).keys() == {""}


def test_a_payload_that_is_not_an_answerable_request_is_refused_naming_the_fields():
    with pytest.raises(ValueError, match="answer_schema") as refused:
        read_request({"question": "Refer to an underwriter?", "allowed_decisions": ["refer", "decline"]})
    assert "decisions" in str(refused.value)
    with pytest.raises(ValueError, match="allows no decision"):
        read_request({**_request(UnderwriterAnswer), "decisions": []})

