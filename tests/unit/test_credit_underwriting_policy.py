"""The credit policy decision tree (policy.yaml): triggers, tier order, overrides, validation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from reference_agents.credit_underwriting.tools.data import load_rows
from reference_agents.credit_underwriting.tools.policy import REASON_CODE_RE, TIERS, load_policy


def facts(row: dict, pd_pct: float = 10.0, score_points: int = 560) -> dict:
    """Application attributes plus the derived facts the policy reads."""
    return {**row, "pd_pct": pd_pct, "score_points": score_points,
            "amount_per_month_dm": row["credit_amount"] / row["duration_in_month"]}


@pytest.fixture(scope="module")
def policy():
    return load_policy()


@pytest.fixture
def clean_row():
    # Application 0 of the data: 1,169 DM over 6 months, existing credits paid duly elsewhere.
    return dict(load_rows()[0])


def test_clean_low_pd_application_is_approved(policy, clean_row):
    result = policy.decide(facts(clean_row))
    assert result["decision"] == "approve"
    assert result["reasons"] == ["POLICY_CHECKS_PASSED"]
    assert all(not hits for hits in result["rule_hits"].values())


def test_pd_above_cutoff_is_declined_and_grey_band_referred(policy, clean_row):
    cutoff = policy.thresholds["pd_decline_cutoff_pct"]
    referral = policy.thresholds["pd_referral_cutoff_pct"]
    assert policy.decide(facts(clean_row, pd_pct=cutoff + 0.01))["reasons"] == ["PD_ABOVE_DECLINE_CUTOFF"]
    grey = policy.decide(facts(clean_row, pd_pct=(cutoff + referral) / 2))
    assert (grey["decision"], grey["reasons"]) == ("refer", ["PD_IN_REFERRAL_BAND"])
    assert policy.decide(facts(clean_row, pd_pct=referral))["decision"] == "approve"  # the cutoff itself is inside appetite


def test_delinquent_history_with_large_amount_is_a_hard_decline(policy, clean_row):
    crafted = {**clean_row, "credit_history": "delay in paying off in the past", "credit_amount": 9000, "duration_in_month": 24}
    result = policy.decide(facts(crafted))
    assert result["decision"] == "decline"
    assert "DELINQUENT_HISTORY_LARGE_AMOUNT" in result["reasons"]
    # The same history with a small amount is not a hard decline.
    small = policy.decide(facts({**crafted, "credit_amount": 2000}))
    assert "DELINQUENT_HISTORY_LARGE_AMOUNT" not in small["rule_hits"]["hard_declines"]


def test_overdrawn_account_without_savings_on_a_long_term_is_a_hard_decline(policy, clean_row):
    crafted = {**clean_row, "status_of_existing_checking_account": "... < 0 DM",
               "savings_account_and_bonds": "... < 100 DM", "duration_in_month": 36}
    assert policy.decide(facts(crafted))["reasons"] == ["OVERDRAWN_NO_SAVINGS_LONG_TERM"]


def test_product_limits_decline_and_authority_limit_refers(policy, clean_row):
    too_big = policy.decide(facts({**clean_row, "credit_amount": 16000, "duration_in_month": 48}))
    assert (too_big["decision"], too_big["reasons"]) == ("decline", ["AMOUNT_ABOVE_PRODUCT_MAXIMUM"])
    # Limits decide before referral triggers, which still show in rule_hits for the audit trail.
    assert "AMOUNT_ABOVE_AUTHORITY_LIMIT" in too_big["rule_hits"]["referral_triggers"]
    too_long = policy.decide(facts({**clean_row, "duration_in_month": 72}))
    assert too_long["reasons"] == ["DURATION_ABOVE_PRODUCT_MAXIMUM"]
    burden = policy.decide(facts({**clean_row, "installment_rate_in_percentage_of_disposable_income": 4,
                                  "credit_amount": 6000, "duration_in_month": 12}))
    assert burden["reasons"] == ["INSTALLMENT_BURDEN_ABOVE_LIMIT"]
    large = policy.decide(facts({**clean_row, "credit_amount": 11000, "duration_in_month": 48}))
    assert (large["decision"], large["reasons"]) == ("refer", ["AMOUNT_ABOVE_AUTHORITY_LIMIT"])


def test_hard_declines_outrank_referrals(policy, clean_row):
    result = policy.decide(facts({**clean_row, "present_employment_since": "unemployed"}, pd_pct=80.0))
    assert result["decision"] == "decline"
    assert result["rule_hits"]["referral_triggers"] == ["PD_IN_REFERRAL_BAND", "UNEMPLOYED_APPLICANT"]


def test_every_reason_code_is_machine_readable(policy):
    codes = [code for tier in TIERS for code in getattr(policy, tier)] + [policy.approve_reason]
    assert len(codes) == len(set(codes))
    assert all(REASON_CODE_RE.match(c) for c in codes)


def test_config_overrides_thresholds_and_disables_rules(clean_row):
    stricter = load_policy({"thresholds": {"pd_decline_cutoff_pct": 30.0}})
    assert stricter.decide(facts(clean_row, pd_pct=35.0))["reasons"] == ["PD_ABOVE_DECLINE_CUTOFF"]
    no_authority = load_policy({"referral_triggers": {"AMOUNT_ABOVE_AUTHORITY_LIMIT": {"enabled": False}}})
    assert no_authority.decide(facts({**clean_row, "credit_amount": 11000, "duration_in_month": 48}))["decision"] == "approve"
    assert load_policy().thresholds["pd_decline_cutoff_pct"] == 55.0  # overrides never leak into the default


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"hard_declines": {"AGE_TOO_LOW": {"all": [{"field": "age_in_years", "op": "lt", "value": 25}]}}}, "protected attribute"),
        ({"hard_declines": {"FOREIGN": {"all": [{"field": "foreign_worker", "op": "eq", "value": "yes"}]}}}, "protected attribute"),
        ({"limits": {"BAD_PURPOSE": {"all": [{"field": "purpose", "op": "eq", "value": "yacht"}]}}}, "not categories of 'purpose'"),
        ({"limits": {"X_RULE": {"all": [{"field": "pd_pct", "op": "gt", "value": "$no_such_threshold"}]}}}, "not defined in thresholds"),
        ({"limits": {"lower_case": {"all": [{"field": "pd_pct", "op": "gt", "value": 1}]}}}, "UPPER_SNAKE_CASE"),
        ({"limits": {"IN_NEEDS_LIST": {"all": [{"field": "purpose", "op": "in", "value": "education"}]}}}, "needs a list"),
        ({"unknown_section": {}}, "unknown_section"),
    ],
)
def test_invalid_policy_overrides_are_refused(override, message):
    with pytest.raises(ValidationError, match=message):
        load_policy(override)
