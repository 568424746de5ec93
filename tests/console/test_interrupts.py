"""Prefilling the resume editor from an interrupt payload."""

from console.interrupts import allowed_decisions, resume_template

# The request LangChain's HumanInTheLoopMiddleware interrupts with (langchain.agents.middleware.human_in_the_loop).
HITL_REQUEST = {
    "action_requests": [
        {"name": "wire_transfer", "args": {"amount": 25000}, "description": "Transfer needs review"},
        {"name": "freeze_card", "args": {"card": "4111"}, "description": "Freeze card"},
    ],
    "review_configs": [
        {"action_name": "wire_transfer", "allowed_decisions": ["approve", "edit", "reject"]},
        {"action_name": "freeze_card", "allowed_decisions": ["reject", "approve"]},
    ],
}


def test_hitl_request_prefills_one_decision_per_action_in_request_order():
    assert resume_template(HITL_REQUEST) == {"decisions": [{"type": "approve"}, {"type": "reject"}]}
    assert allowed_decisions(HITL_REQUEST) == ["approve", "edit", "reject"]


def test_payload_nested_under_value_is_found():
    stored = [{"id": "2d0e9a52", "value": {"question": "Refer to an underwriter?", "allowed_decisions": ["refer", "decline"]}}]
    assert resume_template(stored) == {"decision": "refer"}
    assert allowed_decisions(stored) == ["refer", "decline"]


def test_payload_without_allowed_decisions_prefills_an_empty_object():
    assert resume_template({"question": "What amount?"}) == {}
    assert allowed_decisions(None) == []


def test_resume_format_template_is_prefilled_with_first_alternatives():
    # Shape of reference_agents.credit_underwriting.tools.review.referral_payload.
    referral = {
        "kind": "credit_referral",
        "pd_pct": 47.2,
        "allowed_decisions": ["decline", "approve"],
        "resume_format": {"decision": "approve|decline", "underwriter": "<underwriter id>", "note": "<text>"},
    }
    assert resume_template(referral) == {"decision": "decline", "underwriter": "<underwriter id>", "note": "<text>"}
    assert resume_template({"resume_format": {"disposition": "fraud|legitimate"}}) == {"disposition": "fraud"}
