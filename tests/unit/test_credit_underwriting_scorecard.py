"""The credit scorecard: discrimination, consistency with scikit-learn, fair-lending exclusions."""

from __future__ import annotations

import math

import pytest

from reference_agents.credit_underwriting.tools import scorecard
from reference_agents.credit_underwriting.tools.data import PROTECTED_ATTRIBUTES, load_rows


@pytest.fixture(scope="module")
def card():
    return scorecard.fitted_scorecard()


def test_cross_validated_auc_is_clearly_better_than_chance():
    # Out-of-sample, 5 stratified folds: the published logistic benchmarks on this data lie near 0.78.
    auc = scorecard.cross_validated_auc()
    assert 0.70 < auc < 0.90


def test_points_table_reproduces_sklearn_probabilities(card):
    X, _ = scorecard.training_data()
    sk_pd = scorecard.fitted_pipeline().predict_proba(X)[:, 1]
    for row, p in zip(load_rows(), sk_pd):
        assert card.assess(row)["pd_pct"] == pytest.approx(100 * p, abs=0.006)


def test_bad_applications_get_higher_pd_and_fewer_points(card):
    scored = [(card.assess(r), r["creditability"]) for r in load_rows()]
    mean_pd = {lab: sum(a["pd_pct"] for a, l in scored if l == lab) / sum(l == lab for _, l in scored) for lab in ("good", "bad")}
    assert mean_pd["bad"] > mean_pd["good"] + 15
    # Ordered by log-odds of bad, PD rises and points fall (both are monotone maps of the log-odds).
    ordered = [card.assess(r) for r in sorted(load_rows(), key=card.log_odds_bad)]
    assert all(x["pd_pct"] <= y["pd_pct"] and x["score_points"] >= y["score_points"] for x, y in zip(ordered, ordered[1:]))


def test_points_scaling_doubles_odds_every_20_points(card):
    # score = offset + factor * ln(odds good:bad): 600 points at 50:1, 20 points to double the odds.
    assert card.offset + card.factor * math.log(50) == pytest.approx(600)
    assert card.factor * math.log(2) == pytest.approx(20)


def test_protected_attributes_are_not_characteristics(card):
    assert not set(PROTECTED_ATTRIBUTES) & set(scorecard.CHARACTERISTICS)
    assert set(card.weights) == set(scorecard.CHARACTERISTICS)
    row = dict(load_rows()[0])
    changed = {**row, "personal_status_and_sex": "female : divorced/separated/married", "age_in_years": 19, "foreign_worker": "no"}
    assert card.assess(changed) == card.assess(row)


def test_longer_term_raises_pd_all_else_equal(card):
    row = dict(load_rows()[0])
    pds = [card.assess({**row, "duration_in_month": d})["pd_pct"] for d in (6, 18, 30, 48)]
    assert pds == sorted(pds) and pds[-1] > pds[0]


def test_coarse_classes():
    assert scorecard.attribute_of("duration_in_month", 12) == "<=12"
    assert scorecard.attribute_of("duration_in_month", 13) == "12<..<=24"
    assert scorecard.attribute_of("duration_in_month", 60) == ">36"
    assert scorecard.attribute_of("purpose", "education") == "education"


def test_top_risk_factors_name_characteristics(card):
    worst = max(load_rows(), key=lambda r: card.assess(r)["pd_pct"])
    factors = card.assess(worst)["top_risk_factors"]
    assert len(factors) == scorecard.TOP_RISK_FACTORS
    assert set(factors) <= set(scorecard.CHARACTERISTICS)
