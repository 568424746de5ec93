"""Graph state of the credit-underwriting agent (plain JSON values only, for the checkpointer)."""

from __future__ import annotations

from typing_extensions import TypedDict  # pydantic needs it for JSON schemas on Python < 3.12


class ApplicationInput(TypedDict, total=False):
    """The graph's input: one application, German Credit column names (see ``inputs.CreditApplication``).

    Amounts in DM, durations in months; ``application_id`` is the row index when drawn from the data.
    """

    application_id: int | None
    status_of_existing_checking_account: str
    duration_in_month: int
    credit_history: str
    purpose: str
    credit_amount: int
    savings_account_and_bonds: str
    present_employment_since: str
    installment_rate_in_percentage_of_disposable_income: int
    personal_status_and_sex: str
    other_debtors_or_guarantors: str
    present_residence_since: int
    property: str
    age_in_years: int
    other_installment_plans: str
    housing: str
    number_of_existing_credits_at_this_bank: int
    job: str
    number_of_people_being_liable_to_provide_maintenance_for: int
    telephone: str
    foreign_worker: str


class UnderwritingState(ApplicationInput, total=False):
    """Input plus what the workers add, in order.

    Attributes:
        amount_per_month_dm: ``credit_amount / duration_in_month``, DM per month (intake).
        assessment: ``{"pd_pct": 0-100 (population prior), "score_points": int, "top_risk_factors": [str],
            "principal_factors": [{"characteristic", "points_below_best"}]}`` (risk scoring).
        policy_result: ``{"decision", "reasons", "rule_hits": {tier: [codes]}, "policy_version"}`` (policy).
        underwriter_review: the underwriter's answer to a referral, ``{"decision": "approve"|"decline",
            "reviewer": str, "note": str}`` (see ``review.UnderwriterAnswer``).
        decision: final ``"approve"`` or ``"decline"``.
        reasons: machine-readable reason codes of the final decision.
        adverse_action_reasons: a decline's principal reasons for the applicant, ``[{"code", "text",
            "points_below_best"}]`` (1-4, see ``adverse_action.py``); absent unless declined.
        decided_by: ``"policy"`` or ``"underwriter"``.
        narrative: the underwriting memo, written once decided (LLM or template; see ``memo.py``).
        narrative_source: ``"llm"`` or ``"tools"`` (the template over the tools' facts).
    """

    amount_per_month_dm: float
    assessment: dict
    policy_result: dict
    underwriter_review: dict
    decision: str
    reasons: list[str]
    adverse_action_reasons: list[dict]
    decided_by: str
    narrative: str
    narrative_source: str
