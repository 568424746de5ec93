"""The corrected meaning of every German Credit category and code (Grömping 2019).

The Statlog documentation of the data (UCI ``german.doc``, whose labels the CSV carries) is wrong
for many attributes. Grömping, U. (2019), *South German Credit Data: Correcting a Widely Used Data
Set*, Reports in Mathematics, Physics and Chemistry, Report 4/2019, Beuth University of Applied
Sciences Berlin, reconstructs the meanings from the original German sources (Fahrmeir and Hamerle's
tables; the South German Credit data, UCI, doi:10.24432/C5X89F, code table ``codetable.txt``). Her
conversion script (``data-raw/german.R`` of the CRAN package ``rchallenge``, commit e36e934)
reads the Statlog file and gives Statlog code ``A<attribute><k>`` the k-th corrected level; its
two exceptions are ``people_liable`` and ``foreign_worker``, whose codes are reversed.

The CSV and the run input keep the Statlog labels (provenance; the input fields do not change);
this module maps each label to its meaning, and everything an applicant, underwriter or policy
author reads (policy conditions, reasons, the referral summary, the memo) uses the meaning.
``data/PROVENANCE.md`` lists the corrections with the evidence from the data (bad rates).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Mapping

from reference_agents.credit_underwriting.tools.data import CATEGORICAL_ATTRIBUTES, categories

# attribute -> ((label in the CSV, or the numeric code), Statlog code, corrected meaning), in Statlog code order.
_TABLE: dict[str, tuple[tuple[str | int, str, str], ...]] = {
    "status_of_existing_checking_account": (
        ("... < 0 DM", "A11", "no checking account"),
        ("0 <= ... < 200 DM", "A12", "... < 0 DM"),
        ("... >= 200 DM / salary assignments for at least 1 year", "A13", "0 <= ... < 200 DM"),
        ("no checking account", "A14", "... >= 200 DM / salary for at least 1 year"),
    ),
    "credit_history": (
        ("no credits taken/ all credits paid back duly", "A30", "delay in paying off in the past"),
        ("all credits at this bank paid back duly", "A31", "critical account/other credits elsewhere"),
        ("existing credits paid back duly till now", "A32", "no credits taken/all credits paid back duly"),
        ("delay in paying off in the past", "A33", "existing credits paid back duly till now"),
        ("critical account/ other credits existing (not at this bank)", "A34", "all credits at this bank paid back duly"),
    ),
    "purpose": (
        ("car (new)", "A40", "others"),
        ("car (used)", "A41", "car (new)"),
        ("furniture/equipment", "A42", "car (used)"),
        ("radio/television", "A43", "furniture/equipment"),
        ("domestic appliances", "A44", "radio/television"),
        ("repairs", "A45", "domestic appliances"),
        ("education", "A46", "repairs"),
        ("retraining", "A48", "vacation"),
        ("business", "A49", "retraining"),
        ("others", "A410", "business"),
    ),
    "savings_account_and_bonds": (
        ("... < 100 DM", "A61", "unknown/no savings account"),
        ("100 <= ... < 500 DM", "A62", "... < 100 DM"),
        ("500 <= ... < 1000 DM", "A63", "100 <= ... < 500 DM"),
        ("... >= 1000 DM", "A64", "500 <= ... < 1000 DM"),
        ("unknown/ no savings account", "A65", "... >= 1000 DM"),
    ),
    "present_employment_since": (
        ("unemployed", "A71", "unemployed"),
        ("... < 1 year", "A72", "< 1 yr"),
        ("1 <= ... < 4 years", "A73", "1 <= ... < 4 yrs"),
        ("4 <= ... < 7 years", "A74", "4 <= ... < 7 yrs"),
        ("... >= 7 years", "A75", ">= 7 yrs"),
    ),
    "installment_rate_in_percentage_of_disposable_income": (
        (1, "1", ">= 35 % of disposable income"),
        (2, "2", "25 <= ... < 35 % of disposable income"),
        (3, "3", "20 <= ... < 25 % of disposable income"),
        (4, "4", "< 20 % of disposable income"),
    ),
    "personal_status_and_sex": (
        ("male : divorced/separated", "A91", "male : divorced/separated"),
        ("female : divorced/separated/married", "A92", "female : non-single or male : single"),
        ("male : single", "A93", "male : married/widowed"),
        ("male : married/widowed", "A94", "female : single"),
    ),
    "other_debtors_or_guarantors": (
        ("none", "A101", "none"),
        ("co-applicant", "A102", "co-applicant"),
        ("guarantor", "A103", "guarantor"),
    ),
    "present_residence_since": (
        (1, "1", "< 1 yr"),
        (2, "2", "1 <= ... < 4 yrs"),
        (3, "3", "4 <= ... < 7 yrs"),
        (4, "4", ">= 7 yrs"),
    ),
    "property": (
        ("real estate", "A121", "unknown / no property"),
        ("building society savings agreement/ life insurance", "A122", "car or other"),
        ("car or other, not in attribute Savings account/bonds", "A123", "building soc. savings agr./life insurance"),
        ("unknown / no property", "A124", "real estate"),
    ),
    "other_installment_plans": (
        ("bank", "A141", "bank"),
        ("stores", "A142", "stores"),
        ("none", "A143", "none"),
    ),
    "housing": (
        ("rent", "A151", "for free"),
        ("own", "A152", "rent"),
        ("for free", "A153", "own"),
    ),
    "number_of_existing_credits_at_this_bank": (
        (1, "1", "1"),
        (2, "2", "2-3"),
        (3, "3", "4-5"),
        (4, "4", ">= 6"),
    ),
    "job": (
        ("unemployed/ unskilled - non-resident", "A171", "unemployed/unskilled - non-resident"),
        ("unskilled - resident", "A172", "unskilled - resident"),
        ("skilled employee / official", "A173", "skilled employee/official"),
        ("management/ self-employed/ highly qualified employee/ officer", "A174", "manager/self-empl./highly qualif. employee"),
    ),
    # Grömping's two exceptions: the Statlog codes of these two attributes run the other way.
    "number_of_people_being_liable_to_provide_maintenance_for": (
        (1, "1", "0 to 2"),
        (2, "2", "3 or more"),
    ),
    "telephone": (
        ("none", "A191", "no"),
        ("yes, registered under the customers name", "A192", "yes (under customer name)"),
    ),
    "foreign_worker": (
        ("yes", "A201", "no"),
        ("no", "A202", "yes"),
    ),
}
CODED_ATTRIBUTES = tuple(_TABLE)
STATLOG_CODE: dict[str, dict[str | int, str]] = {a: {v: c for v, c, _ in rows} for a, rows in _TABLE.items()}
CORRECTED_MEANING: dict[str, dict[str | int, str]] = {a: {v: m for v, _, m in rows} for a, rows in _TABLE.items()}
# Attributes whose Statlog documentation is wrong: at least one label or code reads differently once corrected
# (the others only have Grömping's shorter wording, or had no meaning documented for their codes).
RELABELLED = (
    "status_of_existing_checking_account", "credit_history", "purpose", "savings_account_and_bonds",
    "installment_rate_in_percentage_of_disposable_income", "personal_status_and_sex", "present_residence_since",
    "property", "housing",
    "number_of_existing_credits_at_this_bank", "number_of_people_being_liable_to_provide_maintenance_for",
    "foreign_worker",
)


def meaning(attribute: str, value: str | int) -> str:
    """The corrected meaning of one attribute value (a CSV label or a numeric code).

    Raises:
        KeyError: the attribute has no coding (``duration_in_month``, ``credit_amount``,
            ``age_in_years`` are plain quantities) or the value is not one of its labels/codes.
    """
    return CORRECTED_MEANING[attribute][value]


def corrected(application: Mapping) -> dict:
    """The application with every categorical attribute replaced by its corrected meaning.

    Numeric attributes (including the coded ones such as the installment rate) keep their value,
    so a policy compares codes as numbers; other keys pass through unchanged.
    """
    return {k: CORRECTED_MEANING[k][v] if k in CATEGORICAL_ATTRIBUTES else v for k, v in application.items()}


@lru_cache(maxsize=1)
def corrected_categories() -> dict[str, tuple[str, ...]]:
    """The corrected meanings present in the data, per categorical attribute (sorted)."""
    return {a: tuple(sorted({CORRECTED_MEANING[a][label] for label in labels})) for a, labels in categories().items()}
