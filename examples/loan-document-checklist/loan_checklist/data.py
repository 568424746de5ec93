"""The German Credit applications in ``data/`` as run inputs (for tests and ``samples/``; the
graph itself never reads the data).

``python -m loan_checklist.data samples/inputs.json`` rewrites the demo inputs: the first three
applications of each of the 10 purposes, in file order (30 applications).
"""

from __future__ import annotations

import csv
import json
import sys
from functools import lru_cache
from pathlib import Path

from loan_checklist.attributes import numeric_attributes

DATA_PATH = Path(__file__).resolve().parent.parent / "data" / "german_credit.csv"
LABEL = "creditability"  # good/bad outcome of the original study: not an input of this agent
SAMPLES_PER_PURPOSE = 3


@lru_cache(maxsize=1)
def load_applications() -> tuple[dict, ...]:
    """All 1,000 applications in file order as run inputs.

    Returns:
        dicts with the 20 attributes (integers for the numeric ones) and ``application_id`` =
        0-based row index; the ``creditability`` label is dropped. Treat them as read-only.
    """
    numeric = set(numeric_attributes())
    with DATA_PATH.open(newline="", encoding="utf-8") as fh:
        return tuple({"application_id": i, **{k: int(v) if k in numeric else v for k, v in row.items() if k != LABEL}}
                     for i, row in enumerate(csv.DictReader(fh)))


def sample_applications() -> list[dict]:
    """The demo inputs: the first ``SAMPLES_PER_PURPOSE`` applications of each purpose, in file order."""
    taken: dict[str, int] = {}
    out = []
    for app in load_applications():
        if taken.get(app["purpose"], 0) < SAMPLES_PER_PURPOSE:
            taken[app["purpose"]] = taken.get(app["purpose"], 0) + 1
            out.append(dict(app))
    return out


def main(argv: list[str]) -> int:
    """Write :func:`sample_applications` as a JSON list to ``argv[0]``."""
    Path(argv[0]).write_text(json.dumps(sample_applications(), indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
