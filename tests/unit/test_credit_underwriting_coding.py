"""The corrected coding of the German Credit data (Grömping 2019): the table against the Statlog
original row by row, and each correction checked against the data itself."""

from __future__ import annotations

from collections import Counter
from statistics import mean, median

import pytest

from reference_agents.credit_underwriting.tools.coding import (
    CODED_ATTRIBUTES,
    CORRECTED_MEANING,
    STATLOG_CODE,
    corrected,
    corrected_categories,
    meaning,
)
from reference_agents.credit_underwriting.tools.data import STATLOG_COLUMNS, categories, load_rows, load_statlog_codes


def _bad_rate_by_meaning(attribute: str) -> dict[str, float]:
    groups: dict[str, list[bool]] = {}
    for r in load_rows():
        groups.setdefault(meaning(attribute, r[attribute]), []).append(r["creditability"] == "bad")
    return {m: sum(v) / len(v) for m, v in groups.items()}


def test_every_label_and_code_of_the_data_has_a_corrected_meaning():
    for attribute, labels in categories().items():
        assert set(labels) <= set(CORRECTED_MEANING[attribute]), attribute
    for attribute in ("installment_rate_in_percentage_of_disposable_income", "present_residence_since",
                      "number_of_existing_credits_at_this_bank", "number_of_people_being_liable_to_provide_maintenance_for"):
        assert {r[attribute] for r in load_rows()} <= set(CORRECTED_MEANING[attribute])
    assert set(CODED_ATTRIBUTES) == set(STATLOG_COLUMNS) - {"duration_in_month", "credit_amount", "age_in_years"}


def test_the_csv_is_the_statlog_file_row_by_row_except_its_sex_column():
    rows, codes = load_rows(), load_statlog_codes()
    assert len(rows) == len(codes) == 1000
    assert all(r["creditability"] == c["creditability"] for r, c in zip(rows, codes))
    for attribute in STATLOG_COLUMNS:
        if attribute == "personal_status_and_sex":
            continue
        expected = STATLOG_CODE.get(attribute)
        agree = sum((expected[r[attribute]] if expected else r[attribute]) == (str(c[attribute]) if expected else c[attribute])
                    for r, c in zip(rows, codes))
        assert agree == 1000, attribute
    # The CSV's personal_status_and_sex has the original's category counts but not its rows:
    # it agrees on 401 rows, what an independent shuffle gives (about 407).
    shuffled = [STATLOG_CODE["personal_status_and_sex"][r["personal_status_and_sex"]] for r in rows]
    original = [c["personal_status_and_sex"] for c in codes]
    assert Counter(shuffled) == Counter(original) == {"A91": 50, "A92": 310, "A93": 548, "A94": 92}
    assert sum(a == b for a, b in zip(shuffled, original)) == 401


def test_credit_history_corrected_meanings_order_the_bad_rate():
    rate = _bad_rate_by_meaning("credit_history")
    order = ["delay in paying off in the past", "critical account/other credits elsewhere",
             "no credits taken/all credits paid back duly", "existing credits paid back duly till now",
             "all credits at this bank paid back duly"]
    assert [round(rate[m], 3) for m in order] == [0.625, 0.571, 0.319, 0.318, 0.171]
    # Read with the Statlog labels, "delay in paying off" (0.318) was no riskier than "paid back duly"
    # (0.319) and "critical account" the safest of all (0.171).
    assert meaning("credit_history", "delay in paying off in the past") == "existing credits paid back duly till now"
    assert meaning("credit_history", "critical account/ other credits existing (not at this bank)") == \
        "all credits at this bank paid back duly"


def test_checking_account_and_savings_corrected_meanings_order_the_bad_rate():
    checking = _bad_rate_by_meaning("status_of_existing_checking_account")
    assert [round(checking[m], 3) for m in ("no checking account", "... < 0 DM", "0 <= ... < 200 DM",
                                            "... >= 200 DM / salary for at least 1 year")] == [0.493, 0.39, 0.222, 0.117]
    savings = _bad_rate_by_meaning("savings_account_and_bonds")
    assert savings["unknown/no savings account"] > savings["... < 100 DM"] > savings["100 <= ... < 500 DM"] \
        > savings["500 <= ... < 1000 DM"]


def test_installment_rate_code_1_is_the_heaviest_burden():
    # The higher a credit's monthly amount, the larger its share of income: code 1 carries the largest.
    per_month = {code: mean(r["credit_amount"] / r["duration_in_month"] for r in load_rows()
                            if r["installment_rate_in_percentage_of_disposable_income"] == code) for code in (1, 2, 3, 4)}
    assert per_month[1] > per_month[2] > per_month[3] > per_month[4]
    assert round(per_month[1]) == 300 and round(per_month[4]) == 116
    assert meaning("installment_rate_in_percentage_of_disposable_income", 1) == ">= 35 % of disposable income"
    assert meaning("installment_rate_in_percentage_of_disposable_income", 4) == "< 20 % of disposable income"
    # The bad rate does not confirm the direction: it rises as the burden falls (why the scorecard drops it).
    rate = _bad_rate_by_meaning("installment_rate_in_percentage_of_disposable_income")
    assert rate["< 20 % of disposable income"] > rate[">= 35 % of disposable income"]


def test_housing_and_property_corrections_match_age_and_amounts():
    rows = load_rows()

    def of(attribute, value, field):
        return [r[field] for r in rows if meaning(attribute, r[attribute]) == value]

    # Owners are the oldest; living for free (with family) the youngest.
    ages = {m: mean(of("housing", m, "age_in_years")) for m in ("own", "rent", "for free")}
    assert ages["own"] > ages["rent"] > ages["for free"] and round(ages["own"], 1) == 43.8
    # Real estate goes with the largest credits, no property with the smallest, and owners own real estate.
    amounts = {m: median(of("property", m, "credit_amount")) for m in corrected_categories()["property"]}
    assert max(amounts, key=amounts.get) == "real estate" and min(amounts, key=amounts.get) == "unknown / no property"
    owners = [r for r in rows if meaning("housing", r["housing"]) == "own"]
    assert sum(meaning("property", r["property"]) == "real estate" for r in owners) == 104 and len(owners) == 108


def test_personal_status_and_foreign_worker_corrections():
    codes = load_statlog_codes()
    age = {c: mean(r["age_in_years"] for r in codes if r["personal_status_and_sex"] == c) for c in ("A91", "A92", "A93", "A94")}
    assert min(age, key=age.get) == "A94"  # the youngest group: single women, not married men
    assert CORRECTED_MEANING["personal_status_and_sex"]["male : married/widowed"] == "female : single"
    # 37 foreign workers at a South German bank in 1973-75, not 963.
    foreign = Counter(meaning("foreign_worker", r["foreign_worker"]) for r in load_rows())
    assert foreign == {"yes": 37, "no": 963}


@pytest.mark.parametrize(("attribute", "label", "corrected_meaning"), [
    ("status_of_existing_checking_account", "... < 0 DM", "no checking account"),
    ("purpose", "car (new)", "others"),
    ("purpose", "others", "business"),
    ("savings_account_and_bonds", "unknown/ no savings account", "... >= 1000 DM"),
    ("property", "real estate", "unknown / no property"),
    ("housing", "rent", "for free"),
    ("present_employment_since", "... < 1 year", "< 1 yr"),
])
def test_corrected_application(attribute, label, corrected_meaning):
    row = {**load_rows()[0], attribute: label}
    out = corrected(row)
    assert out[attribute] == corrected_meaning and corrected_meaning in corrected_categories()[attribute]
    assert out["installment_rate_in_percentage_of_disposable_income"] == row["installment_rate_in_percentage_of_disposable_income"]
