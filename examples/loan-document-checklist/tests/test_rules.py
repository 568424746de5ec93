"""The checklist rules on real German Credit applications, and the loader's refusals."""

from __future__ import annotations

import copy
import warnings

import pytest
import yaml

from loan_checklist.attributes import categories
from loan_checklist.rules import (CHECKLIST, CHECKLIST_PATH, ChecklistError, ChecklistVersionWarning,
                                  load_checklist)

INCOME_DOCUMENTS = {"PAYSLIPS_3M", "TAX_ASSESSMENTS_2Y", "OTHER_INCOME_PROOF"}
ACCOUNT_DOCUMENTS = {"CURRENT_ACCOUNT_STATEMENTS_3M", "EXTERNAL_ACCOUNT_STATEMENTS_3M"}


def documents(application: dict) -> dict[str, list[str]]:
    """``{document code: [reason codes]}`` of an application's checklist."""
    required, _ = CHECKLIST.evaluate(application)
    return {d.code: [r.code for r in d.reasons] for d in required}


def scrutiny(application: dict) -> list[str]:
    return [r.code for r in CHECKLIST.evaluate(application)[1]]


def test_the_checklist_file_loads_with_its_version():
    assert CHECKLIST.version == "2026.1"
    assert len(CHECKLIST.rules) == 24 and len(CHECKLIST.documents) == 27


def test_the_category_vocabulary_is_exactly_the_data(applications):
    for field, allowed in categories().items():
        assert {a[field] for a in applications} == set(allowed), field


def test_every_application_needs_identity_one_income_proof_and_one_account_proof(applications):
    for application in applications:
        docs = documents(application)
        assert {"ID_DOCUMENT", "SELF_DISCLOSURE"} <= set(docs)
        assert len(INCOME_DOCUMENTS & set(docs)) == 1, application["application_id"]
        assert len(ACCOUNT_DOCUMENTS & set(docs)) == 1, application["application_id"]


def test_high_scrutiny_matches_an_independent_reading_of_the_rules(applications):
    # The four high-scrutiny rules of checklist.yaml, written out by hand.
    def expected(a: dict) -> bool:
        return (a["credit_amount"] > 10000
                or a["status_of_existing_checking_account"] == "no checking account"
                or a["credit_history"] == "delay in paying off in the past"
                or (a["present_employment_since"] == "unemployed" and not a["job"].startswith("management")))

    flagged = [a["application_id"] for a in applications if scrutiny(a)]
    assert flagged == [a["application_id"] for a in applications if expected(a)]
    assert len(flagged) == 490  # of 1,000: 394 without a current account here, 88 past delays, 40 large, 29 no job


def test_education_without_a_current_account_row_2(app):
    a = app(2)
    assert (a["purpose"], a["status_of_existing_checking_account"]) == ("education", "no checking account")
    docs = documents(a)
    assert docs["ENROLMENT_LETTER"] == ["PURPOSE_EDUCATION"]
    assert docs["EXTERNAL_ACCOUNT_STATEMENTS_3M"] == ["NO_CURRENT_ACCOUNT_AT_BANK"]
    assert docs["EXISTING_CREDIT_AGREEMENTS"] == ["OTHER_CREDITS_EXISTING"]  # critical account / credits elsewhere
    assert scrutiny(a) == ["NO_CURRENT_ACCOUNT_AT_BANK"]


def test_guarantor_furniture_with_life_insurance_row_3(app):
    a = app(3)
    assert a["other_debtors_or_guarantors"] == "guarantor" and a["purpose"] == "furniture/equipment"
    assert a["property"] == "building society savings agreement/ life insurance" and a["credit_amount"] == 7882
    docs = documents(a)
    for code in ("GUARANTEE_AGREEMENT", "GUARANTOR_ID", "GUARANTOR_INCOME_PROOF"):
        assert docs[code] == ["GUARANTOR"]
    assert docs["INSURANCE_POLICY_STATEMENT"] == ["INSURANCE_ABOVE_COLLATERAL_AMOUNT"]  # 7,882 DM > 5,000 DM
    assert docs["PURCHASE_QUOTE"] == ["PURPOSE_GOODS"]
    assert docs["LIABILITIES_OVERVIEW"] == ["ACCOUNT_OVERDRAWN"]
    assert scrutiny(a) == []


def test_new_car_with_past_delays_row_4(app):
    a = app(4)
    assert (a["purpose"], a["credit_history"]) == ("car (new)", "delay in paying off in the past")
    docs = documents(a)
    assert docs["VEHICLE_PURCHASE_QUOTE"] == ["PURPOSE_VEHICLE"]
    assert "VEHICLE_REGISTRATION_II" not in docs  # no vehicle held, and a new car has no registration yet
    assert scrutiny(a) == ["PAST_PAYMENT_DELAYS"]


def test_used_car_document_carries_both_rules_row_7(app):
    a = app(7)
    assert a["purpose"] == "car (used)" and a["property"].startswith("car or other") and a["credit_amount"] == 6948
    docs = documents(a)
    # One document, two reasons: the car already held (above 5,000 DM) and the seller's car.
    assert docs["VEHICLE_REGISTRATION_II"] == ["VEHICLE_ABOVE_COLLATERAL_AMOUNT", "PURPOSE_USED_VEHICLE"]
    assert docs["TAX_ASSESSMENTS_2Y"] == ["INCOME_MANAGEMENT_OR_SELF_EMPLOYED"]
    assert "PAYSLIPS_3M" not in docs


def test_business_loan_with_short_employment_row_11(app):
    a = app(11)
    assert (a["purpose"], a["present_employment_since"]) == ("business", "... < 1 year")
    docs = documents(a)
    assert docs["BUSINESS_PLAN"] == ["PURPOSE_BUSINESS"]
    assert docs["EMPLOYMENT_CONTRACT"] == ["EMPLOYMENT_UNDER_ONE_YEAR"]
    assert docs["PAYSLIPS_3M"] == ["INCOME_EMPLOYED"]


def test_amount_above_the_scrutiny_threshold_row_18(app):
    a = app(18)
    assert a["credit_amount"] == 12579
    assert documents(a)["ASSETS_LIABILITIES_STATEMENT"] == ["AMOUNT_ABOVE_SCRUTINY_THRESHOLD"]
    assert scrutiny(a) == ["AMOUNT_ABOVE_SCRUTINY_THRESHOLD"]
    required, _ = CHECKLIST.evaluate(a)
    assert [d.code for d in required if d.high_scrutiny] == ["ASSETS_LIABILITIES_STATEMENT"]


def test_co_applicant_with_a_store_instalment_plan_row_37(app):
    a = app(37)
    assert (a["other_debtors_or_guarantors"], a["other_installment_plans"]) == ("co-applicant", "stores")
    docs = documents(a)
    assert docs["CO_APPLICANT_ID"] == docs["CO_APPLICANT_INCOME_PROOF"] == ["CO_APPLICANT"]
    assert docs["EXISTING_CREDIT_AGREEMENTS"] == ["OTHER_CREDITS_EXISTING"]
    assert not {"GUARANTEE_AGREEMENT", "GUARANTOR_ID"} & set(docs)


def test_no_employment_income_is_high_scrutiny_row_47_but_self_employed_is_not_row_9(app):
    a = app(47)
    assert a["present_employment_since"] == "unemployed" and not a["job"].startswith("management")
    assert documents(a)["OTHER_INCOME_PROOF"] == ["NO_EMPLOYMENT_INCOME"]
    assert "NO_EMPLOYMENT_INCOME" in scrutiny(a)
    b = app(9)  # "unemployed" under management/self-employed: no employer, i.e. self-employed
    assert b["present_employment_since"] == "unemployed" and b["job"].startswith("management")
    assert "TAX_ASSESSMENTS_2Y" in documents(b) and "NO_EMPLOYMENT_INCOME" not in scrutiny(b)


def test_repairs_row_42_and_other_purposes_row_72(app):
    assert documents(app(42))["CONTRACTOR_QUOTE"] == ["PURPOSE_REPAIRS"]
    assert documents(app(72))["PURPOSE_STATEMENT"] == ["PURPOSE_OTHER"]


def test_every_rule_fires_on_some_real_application(applications):
    fired = {r.code for a in applications for d in CHECKLIST.evaluate(a)[0] for r in d.reasons}
    assert fired == {r.code for r in CHECKLIST.rules}


# --- the loader -----------------------------------------------------------------------------

def _raw() -> dict:
    return yaml.safe_load(CHECKLIST_PATH.read_text(encoding="utf-8"))


def _rule(raw: dict, code: str) -> dict:
    return next(r for r in raw["rules"] if r["code"] == code)


def _set_condition(code: str, condition: dict):
    def change(raw: dict) -> None:
        _rule(raw, code)["all"] = [condition]
    return change


@pytest.mark.parametrize("change, message", [
    (_set_condition("PURPOSE_BUSINESS", {"field": "age_in_years", "op": "lt", "value": 25}),
     "age_in_years is a protected attribute"),
    (_set_condition("PURPOSE_BUSINESS", {"field": "foreign_worker", "op": "eq", "value": "yes"}),
     "foreign_worker is a protected attribute"),
    (_set_condition("PURPOSE_BUSINESS", {"field": "personal_status_and_sex", "op": "eq", "value": "male : single"}),
     "personal_status_and_sex is a protected attribute"),
    (_set_condition("PURPOSE_BUSINESS", {"field": "purpose", "op": "eq", "value": "Business"}),
     "purpose has no category 'Business'"),
    (_set_condition("PURPOSE_BUSINESS", {"field": "purpose", "op": "gt", "value": 3}), "op gt needs a number"),
    (_set_condition("PURPOSE_BUSINESS", {"field": "credit_amount", "op": "gt", "value": "$nope"}),
     "unknown threshold $nope"),
    (_set_condition("PURPOSE_BUSINESS", {"field": "salary", "op": "gt", "value": 1}), "unknown attribute 'salary'"),
    (lambda raw: _rule(raw, "GUARANTOR")["require"].append("GUARANTOR_PHOTO"), "unknown document 'GUARANTOR_PHOTO'"),
    (lambda raw: raw["rules"].append(copy.deepcopy(_rule(raw, "GUARANTOR"))), "GUARANTOR: duplicate rule code"),
    (lambda raw: raw["documents"].update(UNUSED_DOC="Never required"), "no rule requires UNUSED_DOC"),
    (lambda raw: _rule(raw, "GUARANTOR").update(require=[]), "require"),
])
def test_the_loader_refuses_a_checklist_it_could_misread(tmp_path, change, message):
    raw = _raw()
    change(raw)
    path = tmp_path / "checklist.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ChecklistError, match=message.replace("$", r"\$")):
        load_checklist(path)


def test_the_shipped_file_round_trips_through_the_loader(tmp_path):
    path = tmp_path / "checklist.yaml"
    path.write_text(yaml.safe_dump(_raw()), encoding="utf-8")
    assert load_checklist(path) == CHECKLIST


def test_a_different_checklist_version_in_the_environment_warns_not_fails(monkeypatch):
    monkeypatch.setenv("CHECKLIST_VERSION", "2025.9")
    with pytest.warns(ChecklistVersionWarning, match="CHECKLIST_VERSION=2025.9 but checklist.yaml is version 2026.1"):
        assert load_checklist().version == "2026.1"
    monkeypatch.setenv("CHECKLIST_VERSION", "2026.1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_checklist()
