"""The attributes of one consumer-credit application, as the German Credit data names them.

Field names and category strings are exactly those of ``data/german_credit.csv`` (UCI Statlog
German Credit, see ``data/PROVENANCE.md``); each categorical field accepts exactly the categories
that occur in the data. Amounts are Deutsche Mark (DM), durations months; the fields coded 1-4
keep the UCI ordinal codes.
"""

from __future__ import annotations

import typing
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CheckingAccount = Literal[
    "... < 0 DM",
    "0 <= ... < 200 DM",
    "... >= 200 DM / salary assignments for at least 1 year",
    "no checking account",
]
CreditHistory = Literal[
    "no credits taken/ all credits paid back duly",
    "all credits at this bank paid back duly",
    "existing credits paid back duly till now",
    "delay in paying off in the past",
    "critical account/ other credits existing (not at this bank)",
]
Purpose = Literal[
    "car (new)", "car (used)", "furniture/equipment", "radio/television", "domestic appliances",
    "repairs", "education", "retraining", "business", "others",
]
Savings = Literal[
    "... < 100 DM", "100 <= ... < 500 DM", "500 <= ... < 1000 DM", "... >= 1000 DM", "unknown/ no savings account",
]
EmploymentSince = Literal["unemployed", "... < 1 year", "1 <= ... < 4 years", "4 <= ... < 7 years", "... >= 7 years"]
PersonalStatusAndSex = Literal[
    "male : divorced/separated", "female : divorced/separated/married", "male : single", "male : married/widowed",
]
OtherDebtors = Literal["none", "co-applicant", "guarantor"]
# UCI records only the most valuable kind of property held: real estate, else a building-society
# savings agreement / life insurance, else a car or other asset.
Property = Literal[
    "real estate",
    "building society savings agreement/ life insurance",
    "car or other, not in attribute Savings account/bonds",
    "unknown / no property",
]
OtherInstallmentPlans = Literal["bank", "stores", "none"]
Housing = Literal["rent", "own", "for free"]
Job = Literal[
    "unemployed/ unskilled - non-resident",
    "unskilled - resident",
    "skilled employee / official",
    "management/ self-employed/ highly qualified employee/ officer",
]
Telephone = Literal["none", "yes, registered under the customers name"]
ForeignWorker = Literal["yes", "no"]

# Attributes a lender may not base a credit decision on (sex / marital status, age, national
# origin). They are accepted because the data carries them, but no rule may read them
# (rules.load_checklist refuses such a rule) and intake drops them before any other node runs.
PROTECTED_ATTRIBUTES = ("personal_status_and_sex", "age_in_years", "foreign_worker")


class ApplicationAttributes(BaseModel):
    """One German Credit application: the 20 UCI attributes and an optional row id.

    Units: ``credit_amount`` DM, ``duration_in_month`` months. Protected attributes are optional
    and never read by a rule.

    Raises:
        pydantic.ValidationError: on ``model_validate`` of a malformed application; each error's
            ``loc`` names the field.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    application_id: int | None = Field(
        default=None, ge=0, description="Row index (0-based) in data/german_credit.csv, when drawn from it.")
    status_of_existing_checking_account: CheckingAccount = Field(description="Balance of the current account at this bank.")
    duration_in_month: int = Field(ge=1, le=120, description="Loan term, months.")
    credit_history: CreditHistory
    purpose: Purpose = Field(description="What the loan pays for.")
    credit_amount: int = Field(ge=1, le=100_000, description="Amount applied for, DM.")
    savings_account_and_bonds: Savings
    present_employment_since: EmploymentSince = Field(description="Time with the present employer.")
    installment_rate_in_percentage_of_disposable_income: int = Field(
        ge=1, le=4, description="UCI ordinal code 1-4 (4 = highest share of disposable income), not a percentage.")
    personal_status_and_sex: PersonalStatusAndSex | None = Field(
        default=None, description="Protected attribute: accepted, never read by a rule, dropped at intake.")
    other_debtors_or_guarantors: OtherDebtors
    present_residence_since: int = Field(ge=1, le=4, description="UCI ordinal code 1-4.")
    property: Property = Field(description="Most valuable kind of property held (UCI hierarchy).")
    age_in_years: int | None = Field(
        default=None, ge=18, le=100, description="Protected attribute: accepted, never read by a rule, dropped at intake.")
    other_installment_plans: OtherInstallmentPlans
    housing: Housing
    number_of_existing_credits_at_this_bank: int = Field(ge=1, le=4, description="UCI ordinal code 1-4.")
    job: Job
    number_of_people_being_liable_to_provide_maintenance_for: int = Field(ge=1, le=2, description="UCI code 1-2.")
    telephone: Telephone
    foreign_worker: ForeignWorker | None = Field(
        default=None, description="Protected attribute: accepted, never read by a rule, dropped at intake.")


def categories() -> dict[str, tuple[str, ...]]:
    """The allowed category strings of each categorical attribute, ``{field: (category, ...)}``."""
    out = {}
    for name, info in ApplicationAttributes.model_fields.items():
        # A field is `SomeLiteral` or, for the optional protected ones, `SomeLiteral | None`.
        options = typing.get_args(info.annotation) if typing.get_origin(info.annotation) is not Literal else ()
        literal = next((o for o in (info.annotation, *options) if typing.get_origin(o) is Literal), None)
        if literal is not None:
            out[name] = typing.get_args(literal)
    return out


def numeric_attributes() -> tuple[str, ...]:
    """The integer attributes (amount DM, term months, UCI ordinal codes), without ``application_id``."""
    return tuple(name for name, info in ApplicationAttributes.model_fields.items()
                 if name != "application_id" and info.annotation in (int, int | None))
