"""The run input of the credit-underwriting agent: one credit application.

Field names and category strings are those of the German Credit CSV (``data/``); each
categorical field accepts exactly the categories present in the data. The strings are the Statlog
documentation's labels, several of which are wrong: the agent reads each as its corrected meaning
(Grömping 2019; ``tools/coding.py``), e.g. ``credit_history`` "no credits taken/ all credits paid
back duly" means "delay in paying off in the past". The ``creditability`` label is not an input
(extra fields are rejected).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from reference_agents.credit_underwriting.tools.data import categories

_CATS = categories()


def _one_of(attribute: str):
    # Literal[...] makes pydantic's error list the allowed category strings.
    return Literal[_CATS[attribute]]


class CreditApplication(BaseModel):
    """A consumer-credit application (UCI Statlog German Credit attributes).

    Amounts in Deutsche Mark (DM), durations in months. Coded fields keep the UCI codes, not
    quantities; their corrected meanings (Grömping 2019) are e.g.
    ``installment_rate_in_percentage_of_disposable_income`` 1 = installments >= 35 % of disposable
    income ... 4 = < 20 %; ``present_residence_since`` 1 = < 1 year ... 4 = >= 7 years;
    ``number_of_existing_credits_at_this_bank`` 1 = 1, 2 = 2-3, 3 = 4-5, 4 = 6 or more;
    ``number_of_people_being_liable_to_provide_maintenance_for`` 1 = 0 to 2, 2 = 3 or more.

    Raises:
        pydantic.ValidationError: on ``model_validate`` of a malformed application; each
            error's ``loc`` names the field.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    application_id: int | None = Field(default=None, ge=0, description="Row index in the German Credit file, when drawn from it.")
    status_of_existing_checking_account: _one_of("status_of_existing_checking_account")
    duration_in_month: int = Field(ge=1, le=120, description="Loan term, months.")
    credit_history: _one_of("credit_history")
    purpose: _one_of("purpose")
    credit_amount: int = Field(ge=1, le=100_000, description="Amount applied for, DM.")
    savings_account_and_bonds: _one_of("savings_account_and_bonds")
    present_employment_since: _one_of("present_employment_since")
    installment_rate_in_percentage_of_disposable_income: int = Field(
        ge=1, le=4, description="UCI code: 1 = installments >= 35 % of disposable income, 2 = 25-35 %, 3 = 20-25 %, 4 = < 20 %.")
    personal_status_and_sex: _one_of("personal_status_and_sex") = Field(
        description="Statlog label (corrected meanings in tools/coding.py); protected: not used in decisions.")
    other_debtors_or_guarantors: _one_of("other_debtors_or_guarantors")
    present_residence_since: int = Field(ge=1, le=4, description="UCI code: 1 = < 1 year, 2 = 1-4, 3 = 4-7, 4 = >= 7 years.")
    property: _one_of("property")
    age_in_years: int = Field(ge=18, le=100, description="Applicant's age, years (protected: not used in decisions).")
    other_installment_plans: _one_of("other_installment_plans")
    housing: _one_of("housing")
    number_of_existing_credits_at_this_bank: int = Field(ge=1, le=4, description="UCI code: 1 = 1, 2 = 2-3, 3 = 4-5, 4 = >= 6 credits.")
    job: _one_of("job")
    number_of_people_being_liable_to_provide_maintenance_for: int = Field(
        ge=1, le=2, description="UCI code: 1 = 0 to 2 people, 2 = 3 or more.")
    telephone: _one_of("telephone")
    foreign_worker: _one_of("foreign_worker") = Field(
        description="Statlog label, whose meaning is reversed: 'yes' = not a foreign worker (Grömping 2019); "
                    "protected: not used in decisions.")
