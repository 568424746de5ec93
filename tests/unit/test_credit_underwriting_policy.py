"""The credit policy decision tree (policy.yaml): triggers on corrected meanings, tier order, overrides,
validation, wording."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from reference_agents.common.policy import deep_merge
from reference_agents.credit_underwriting.policy import (
    POLICY_PATH,
    REASON_CODE_RE,
    TIERS,
    Policy,
    load_policy,
    policy_facts,
)
from reference_agents.credit_underwriting.tools.data import load_rows


def facts(row: dict, pd_pct: float = 2.0, score_points: int = 610) -> dict:
    """The facts the policy reads: the application (corrected meanings) plus the scorecard's."""
    return policy_facts(row, {"pd_pct": pd_pct, "score_points": score_points})


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


def test_delinquent_history_with_large_amount_is_a_hard_decline_on_the_corrected_meaning(policy, clean_row):
    # The Statlog label "no credits taken/ all credits paid back duly" means "delay in paying off in the past".
    crafted = {**clean_row, "credit_history": "no credits taken/ all credits paid back duly", "credit_amount": 9000,
               "duration_in_month": 24}
    result = policy.decide(facts(crafted))
    assert result["decision"] == "decline"
    assert "DELINQUENT_HISTORY_LARGE_AMOUNT" in result["reasons"]
    # The same history with a small amount is not a hard decline.
    small = policy.decide(facts({**crafted, "credit_amount": 2000}))
    assert "DELINQUENT_HISTORY_LARGE_AMOUNT" not in small["rule_hits"]["hard_declines"]
    # The Statlog label "delay in paying off in the past" means "existing credits paid back duly till now".
    duly = policy.decide(facts({**crafted, "credit_history": "delay in paying off in the past"}))
    assert "DELINQUENT_HISTORY_LARGE_AMOUNT" not in duly["rule_hits"]["hard_declines"]


def test_overdrawn_account_without_savings_on_a_long_term_is_a_hard_decline(policy, clean_row):
    # Corrected meanings: "0 <= ... < 200 DM" is an overdrawn account, "100 <= ... < 500 DM" savings below 100 DM.
    crafted = {**clean_row, "status_of_existing_checking_account": "0 <= ... < 200 DM",
               "savings_account_and_bonds": "100 <= ... < 500 DM", "duration_in_month": 36}
    assert policy.decide(facts(crafted))["reasons"] == ["OVERDRAWN_NO_SAVINGS_LONG_TERM"]
    unknown_savings = {**crafted, "savings_account_and_bonds": "... < 100 DM"}  # no savings account
    assert policy.decide(facts(unknown_savings))["reasons"] == ["OVERDRAWN_NO_SAVINGS_LONG_TERM"]
    # The label "... < 0 DM" means no checking account at all: not overdrawn.
    no_account = {**crafted, "status_of_existing_checking_account": "... < 0 DM"}
    assert "OVERDRAWN_NO_SAVINGS_LONG_TERM" not in policy.decide(facts(no_account))["rule_hits"]["hard_declines"]


def test_product_limits_decline_and_authority_limit_refers(policy, clean_row):
    too_big = policy.decide(facts({**clean_row, "credit_amount": 16000, "duration_in_month": 48}))
    assert (too_big["decision"], too_big["reasons"]) == ("decline", ["AMOUNT_ABOVE_PRODUCT_MAXIMUM"])
    # Limits decide before referral triggers, which still show in rule_hits for the audit trail.
    assert "AMOUNT_ABOVE_AUTHORITY_LIMIT" in too_big["rule_hits"]["referral_triggers"]
    too_long = policy.decide(facts({**clean_row, "duration_in_month": 72}))
    assert too_long["reasons"] == ["DURATION_ABOVE_PRODUCT_MAXIMUM"]
    # Code 1 is the heaviest burden (installments >= 35 % of disposable income), code 4 the lightest (< 20 %).
    heavy = {**clean_row, "installment_rate_in_percentage_of_disposable_income": 1, "credit_amount": 6000,
             "duration_in_month": 12}
    assert policy.decide(facts(heavy))["reasons"] == ["INSTALLMENT_BURDEN_ABOVE_LIMIT"]
    light = {**heavy, "installment_rate_in_percentage_of_disposable_income": 4}
    assert policy.decide(facts(light))["decision"] == "approve"
    large = policy.decide(facts({**clean_row, "credit_amount": 11000, "duration_in_month": 48}))
    assert (large["decision"], large["reasons"]) == ("refer", ["AMOUNT_ABOVE_AUTHORITY_LIMIT"])


def test_hard_declines_outrank_referrals(policy, clean_row):
    result = policy.decide(facts({**clean_row, "present_employment_since": "unemployed"}, pd_pct=30.0))
    assert result["decision"] == "decline"
    assert result["rule_hits"]["referral_triggers"] == ["PD_IN_REFERRAL_BAND", "UNEMPLOYED_APPLICANT"]


def test_every_reason_code_is_machine_readable(policy):
    codes = [code for tier in TIERS for code in getattr(policy, tier)] + [policy.approve_reason]
    assert len(codes) == len(set(codes))
    assert all(REASON_CODE_RE.match(c) for c in codes)


def test_config_overrides_thresholds_and_disables_rules(clean_row):
    stricter = load_policy({"thresholds": {"pd_decline_cutoff_pct": 10.0}})
    assert stricter.decide(facts(clean_row, pd_pct=11.0))["reasons"] == ["PD_ABOVE_DECLINE_CUTOFF"]
    no_authority = load_policy({"referral_triggers": {"AMOUNT_ABOVE_AUTHORITY_LIMIT": {"enabled": False}}})
    assert no_authority.decide(facts({**clean_row, "credit_amount": 11000, "duration_in_month": 48}))["decision"] == "approve"
    assert load_policy().thresholds["pd_decline_cutoff_pct"] == 13.0  # overrides never leak into the default


def _conditions(tier: str, code: str, *conditions: dict) -> dict:
    """An override replacing the conditions of an existing rule."""
    return {tier: {code: {"all": list(conditions)}}}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (_conditions("hard_declines", "PD_ABOVE_DECLINE_CUTOFF", {"field": "age_in_years", "op": "lt", "value": 25}), "protected attribute"),
        (_conditions("limits", "AMOUNT_ABOVE_PRODUCT_MAXIMUM", {"field": "foreign_worker", "op": "eq", "value": "yes"}), "protected attribute"),
        (_conditions("limits", "AMOUNT_ABOVE_PRODUCT_MAXIMUM", {"field": "purpose", "op": "eq", "value": "yacht"}), "not categories of 'purpose'"),
        # a Statlog label that is no corrected meaning is refused: conditions read meanings
        (_conditions("hard_declines", "DELINQUENT_HISTORY_LARGE_AMOUNT",
                     {"field": "credit_history", "op": "eq", "value": "critical account/ other credits existing (not at this bank)"}),
         "corrected meanings"),
        ({"limits": {"AMOUNT_ABOVE_PRODUCT_MAXIMUM": {"applicant_reason": None}}}, "need an applicant_reason"),
        ({"population_bad_rate_pct": 0}, "population_bad_rate_pct"),
        (_conditions("limits", "DURATION_ABOVE_PRODUCT_MAXIMUM", {"field": "pd_pct", "op": "gt", "value": "$no_such_threshold"}), "not defined in thresholds"),
        (_conditions("limits", "DURATION_ABOVE_PRODUCT_MAXIMUM", {"field": "purpose", "op": "in", "value": "education"}), "needs a list"),
        (_conditions("limits", "DURATION_ABOVE_PRODUCT_MAXIMUM", {"field": "pd_pct", "op": "between", "value": 1}), "op"),
        ({"referral_triggers": {"UNEMPLOYED_APPLICANT": {"description": ""}}}, "description"),
    ],
)
def test_invalid_policy_overrides_are_refused(override, message):
    with pytest.raises(ValidationError, match=message):
        load_policy(override)


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ({"unknown_section": {}}, "unknown_section"),
        ({"thresholds": {"pd_decline_cutof_pct": 60}}, "thresholds.pd_decline_cutof_pct"),
        ({"limits": {"AMOUNT_ABOVE_PRODUCT_MAXIMUM": {"enabeld": False}}}, "enabeld"),
    ],
)
def test_overrides_of_keys_the_policy_does_not_have_are_refused_naming_them(override, key):
    with pytest.raises(ValueError, match=key):
        load_policy(override)


def test_a_spec_may_add_a_rule_to_a_tier():
    rule = {"description": "Any PD above 1% is declined in this test policy.", "all": [{"field": "pd_pct", "op": "gt", "value": 1}]}
    policy = load_policy({"limits": {"PD_ABOVE_TEST_LIMIT": rule}})
    assert "PD_ABOVE_TEST_LIMIT" in policy.reason_descriptions()
    # a knock-out rule that does not read the score must say what the applicant is told
    knock_out = {"description": "Unskilled resident applicants are declined in this test policy.", "all": [{"field": "job", "op": "eq", "value": "unskilled - resident"}]}
    with pytest.raises(ValidationError, match="applicant_reason"):
        load_policy({"limits": {"UNSKILLED_TEST_LIMIT": knock_out}})
    ok = load_policy({"limits": {"UNSKILLED_TEST_LIMIT": {**knock_out, "applicant_reason": "Type of employment."}}})
    assert ok.applicant_reasons(["UNSKILLED_TEST_LIMIT", "PD_ABOVE_DECLINE_CUTOFF"]) == [
        {"code": "UNSKILLED_TEST_LIMIT", "text": "Type of employment."}]


def test_reason_codes_must_be_upper_snake_case_in_the_policy_file():
    raw = yaml.safe_load(POLICY_PATH.read_text(encoding="utf-8"))
    renamed = deep_merge(raw, {"limits": {"lower_case": raw["limits"]["AMOUNT_ABOVE_PRODUCT_MAXIMUM"]}})
    with pytest.raises(ValidationError, match="UPPER_SNAKE_CASE"):
        Policy.model_validate(renamed)


def test_every_reason_code_has_its_wording(policy):
    wording = policy.reason_descriptions()
    assert set(wording) == {code for tier in TIERS for code in getattr(policy, tier)} | {policy.approve_reason}
    assert all(text.endswith(".") and len(text) > 20 for text in wording.values())
    assert wording["PD_IN_REFERRAL_BAND"] == "Probability of default in the grey band below the decline cutoff."
