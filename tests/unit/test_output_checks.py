"""The compliance checks the reference agents declare on their outputs (``OUTPUT_CHECKS``), which the
run guards apply before an output leaves a run (a problem withholds it)."""

from __future__ import annotations

from reference_agents.compliance_monitoring import AGENT as COMPLIANCE
from reference_agents.credit_underwriting import AGENT as CREDIT
from reference_agents.fraud_detection import AGENT as FRAUD


def _problems(agent, output: dict) -> list[str]:
    return [p for check in agent.output_checks for p in check(output)]


REASON = {"code": "DTI_HIGH", "text": "Debt-to-income ratio too high"}


def test_a_declined_credit_application_must_carry_one_to_four_adverse_action_reasons():
    assert _problems(CREDIT, {"decision": "decline", "adverse_action_reasons": []}) == [
        "a declined application must carry 1 to 4 adverse-action reasons, not 0"]
    assert _problems(CREDIT, {"decision": "decline", "adverse_action_reasons": [REASON] * 5})
    assert _problems(CREDIT, {"decision": "decline", "adverse_action_reasons": [REASON]}) == []
    assert _problems(CREDIT, {"decision": "approve", "adverse_action_reasons": []}) == []


def test_a_sanctions_clear_must_list_the_watchlists_screened():
    assert _problems(COMPLIANCE, {"decision": "clear", "watchlist": {"lists": []}}) == [
        "a clear screening must list the watchlists screened"]
    assert _problems(COMPLIANCE, {"decision": "clear", "watchlist": {"lists": [{"source": "UN", "file": "x.xml"}]}}) == []
    assert _problems(COMPLIANCE, {"decision": "alert", "watchlist": {}}) == []


def test_a_fraud_block_or_step_up_must_carry_its_reason_codes():
    assert _problems(FRAUD, {"decision": "block", "reasons": []}) == ["a block must carry its reason codes"]
    assert _problems(FRAUD, {"decision": "step_up", "reasons": ["AMOUNT_SPIKE"]}) == []
    assert _problems(FRAUD, {"decision": "auto_close", "reasons": []}) == []
