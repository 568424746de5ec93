"""Principal reasons for a decline (ECOA / Regulation B adverse action): wording, order, limits."""

from __future__ import annotations

import pytest

from reference_agents.credit_underwriting.adverse_action import MAX_REASONS, STATEMENTS, principal_reasons, score_reasons
from reference_agents.credit_underwriting.policy import load_policy, policy_facts
from reference_agents.credit_underwriting.tools import scorecard
from reference_agents.credit_underwriting.tools.data import load_rows


@pytest.fixture(scope="module")
def card():
    return scorecard.fitted_scorecard()


def test_every_scored_characteristic_has_a_statement_and_nothing_else_does():
    assert set(STATEMENTS) == set(scorecard.CHARACTERISTICS)
    codes = [code for code, _ in STATEMENTS.values()]
    assert len(codes) == len(set(codes))


def test_statements_name_the_applicants_own_value_in_its_corrected_meaning(card):
    row = {**load_rows()[0], "status_of_existing_checking_account": "... < 0 DM", "credit_history": "all credits at this bank paid back duly",
           "duration_in_month": 48, "credit_amount": 12500, "savings_account_and_bonds": "... < 100 DM"}
    texts = {code: statement(row) for code, statement in STATEMENTS.values()}
    assert texts["CHECKING_ACCOUNT_STATUS"] == "Status of checking account with us: no checking account."
    assert texts["CREDIT_HISTORY"] == "Credit history: critical account/other credits elsewhere."
    assert texts["CREDIT_TERM"] == "Term of the credit requested: 48 months."
    assert texts["CREDIT_AMOUNT"] == "Amount of credit requested: 12,500 DM."
    assert texts["INSUFFICIENT_SAVINGS"] == "Savings: unknown/no savings account."
    reasons = score_reasons(card.assess(row), row)
    assert [r["code"] for r in reasons][:2] == ["CHECKING_ACCOUNT_STATUS", "CREDIT_TERM"]


def test_policy_reasons_come_first_then_score_factors_up_to_four(card):
    policy = load_policy()
    row = {**load_rows()[0], "credit_amount": 16000, "duration_in_month": 66, "status_of_existing_checking_account": "... < 0 DM"}
    assessment = card.assess(row)
    result = policy.decide(policy_facts(row, assessment))
    reasons = principal_reasons(policy, result["reasons"], assessment, row)
    assert [r["code"] for r in reasons[:2]] == ["AMOUNT_ABOVE_PRODUCT_MAXIMUM", "DURATION_ABOVE_PRODUCT_MAXIMUM"]
    assert [r["points_below_best"] for r in reasons[:2]] == [None, None]
    assert len(reasons) == MAX_REASONS
    assert reasons[2:] == score_reasons(assessment, row)[:2]


def test_score_cutoffs_are_replaced_by_the_factors_and_referral_facts_kept(card):
    policy = load_policy()
    row = {**load_rows()[0], "present_employment_since": "unemployed"}
    assessment = card.assess(row)
    # a score decline: no "failed to achieve the qualifying score", only what the score was made of
    assert principal_reasons(policy, ["PD_ABOVE_DECLINE_CUTOFF"], assessment, row) == score_reasons(assessment, row)
    # an underwriter's decline after a referral for unemployment and the grey band
    reasons = principal_reasons(policy, ["PD_IN_REFERRAL_BAND", "UNEMPLOYED_APPLICANT"], assessment, row)
    assert reasons[0] == {"code": "UNEMPLOYED_APPLICANT", "text": "Temporary or irregular employment (currently unemployed).",
                          "points_below_best": None}
    # the internal authority limit is no reason the applicant is given
    assert principal_reasons(policy, ["AMOUNT_ABOVE_AUTHORITY_LIMIT"], assessment, row) == score_reasons(assessment, row)
