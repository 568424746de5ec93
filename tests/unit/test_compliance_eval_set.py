"""The labelled screening set the model review measures on (data/screening_eval.csv) is exactly what
its documented generator builds, with the groups and variations its construction promises."""

from __future__ import annotations

import csv
from collections import Counter

from bench.model_review_compliance import EVAL_SET, build_eval_set


def test_shipped_eval_set_is_what_its_generator_builds():
    shipped = list(csv.DictReader(EVAL_SET.open(encoding="utf-8", newline="")))
    assert shipped == build_eval_set()


def test_eval_set_holds_true_matches_in_every_variation_and_three_kinds_of_non_match():
    rows = build_eval_set()
    groups = Counter(r["group"] for r in rows)
    assert groups["common_name"] == 160 and groups["recombined"] == 150 and groups["ordinary"] >= 60
    variations = Counter(r["variation"] for r in rows if r["group"] == "true_match")
    assert {"reordered", "typo", "initials", "joined", "split", "cyrillic"} <= set(variations)
    assert all(r["expected_reference"] for r in rows if r["group"] == "true_match")
    assert not any(r["expected_reference"] for r in rows if r["group"] != "true_match")
    assert {"Mohammed Ali", "Abdul Rahman", "Ali Hassan", "Muhammad Khan", "M. A. Khan", "Abdulrahman"} <= {
        r["name"] for r in rows if r["group"] == "common_name"}
