"""The credit scorecard: honest discrimination (bins chosen inside the folds), consistency with
scikit-learn, the prior-corrected PD, monotone bins, principal factors, fair-lending exclusions."""

from __future__ import annotations

import math

import pytest

from reference_agents.credit_underwriting.policy import load_policy
from reference_agents.credit_underwriting.tools import scorecard
from reference_agents.credit_underwriting.tools.calibration import overall, reliability_table
from reference_agents.credit_underwriting.tools.data import PROTECTED_ATTRIBUTES, load_rows


@pytest.fixture(scope="module")
def card():
    return scorecard.fitted_scorecard()


def test_cross_validated_auc_is_clearly_better_than_chance():
    # Repeated stratified 5-fold CV, bins chosen in each training fold: published logistic benchmarks lie near 0.78.
    mean, sd = scorecard.cross_validated_auc(repeats=2)
    assert 0.74 < mean < 0.84 and 0.0 < sd < 0.08


def test_bins_are_chosen_inside_each_training_fold(monkeypatch):
    # The pipeline's first step learns the bins from what it is fitted on ...
    X, y = scorecard.training_data()
    half, other_half = list(range(0, 1000, 2)), list(range(1, 1000, 2))
    fitted = scorecard.make_pipeline().fit([X[i] for i in half], [y[i] for i in half])
    edges = fitted.steps[0][1].edges_
    assert set(edges) == {"duration_in_month", "credit_amount"} and all(1 <= len(e) <= 4 for e in edges.values())
    assert scorecard.CoarseClassing().fit([X[i] for i in other_half], [y[i] for i in other_half]).edges_ != edges
    # ... so cross-validation fits them on each training fold (800 rows), never on all 1,000.
    sizes = []
    fit = scorecard.CoarseClassing.fit

    def recording_fit(self, rows, targets):
        sizes.append(len(rows))
        return fit(self, rows, targets)

    monkeypatch.setattr(scorecard.CoarseClassing, "fit", recording_fit)
    scorecard.cross_validated_auc(repeats=1)
    assert sizes == [800] * 5


def test_learnt_bins_have_a_monotone_bad_rate_and_enough_rows():
    X, y = scorecard.training_data()
    classing = scorecard.CoarseClassing().fit(X, y)
    for c, edges in classing.edges_.items():
        bins = [scorecard.bin_label(edges, r[c]) for r in X]
        order = [scorecard.bin_label(edges, e) for e in edges] + [f">{edges[-1]}"]
        rates = [sum(t for b, t in zip(bins, y) if b == o) / bins.count(o) for o in order]
        assert rates == sorted(rates), (c, rates)  # term and amount: riskier the longer / larger
        assert min(bins.count(o) for o in order) >= 0.05 * len(X)


def test_points_table_reproduces_sklearn_probabilities(card):
    X, _ = scorecard.training_data()
    sk_pd = scorecard.fitted_pipeline().predict_proba(X)[:, 1]
    for row, p in zip(X, sk_pd):
        assert 1 / (1 + math.exp(-card.sample_log_odds(row))) == pytest.approx(p, abs=1e-9)


def test_pd_is_corrected_to_the_population_prior(card):
    rows = load_rows()
    shift = scorecard.prior_shift(0.05)
    assert shift == pytest.approx(math.log(0.05 / 0.95) - math.log(0.3 / 0.7))
    for row in rows[:50]:
        z = card.sample_log_odds(row)
        assert card.assess(row)["pd_pct"] == pytest.approx(100 / (1 + math.exp(-(z + shift))), abs=0.006)
        assert card.assess(row, 0.10)["pd_pct"] > card.assess(row)["pd_pct"]  # a higher prior, a higher PD
    # Reweighted to the population (bad x 0.05/0.3, good x 0.95/0.7), the mean PD is the prior.
    weights = [0.05 / 0.3 if r["creditability"] == "bad" else 0.95 / 0.7 for r in rows]
    mean = sum(w * card.assess(r)["pd_pct"] for w, r in zip(weights, rows)) / sum(weights)
    assert mean == pytest.approx(5.0, abs=0.3)
    with pytest.raises(ValueError, match="population bad rate"):
        scorecard.prior_shift(0.0)
    # the graph scores at the policy's prior; the scorecard's default is the same
    assert load_policy().population_bad_rate_pct == pytest.approx(100 * scorecard.DEFAULT_POPULATION_BAD_RATE)


def test_out_of_sample_calibration_at_the_prior():
    _, y = scorecard.training_data()
    table = reliability_table(scorecard.out_of_fold_sample_pd(), y, 0.05)
    assert [g["n"] for g in table] == [100] * 10
    assert [g["predicted"] for g in table] == sorted(g["predicted"] for g in table)
    predicted, observed = overall(table)
    assert observed == pytest.approx(0.05) and predicted == pytest.approx(0.05, abs=0.005)
    # the riskiest decile's bad rate is many times the safest's, on both scales
    assert table[-1]["observed"] > 10 * table[0]["observed"]
    assert table[-1]["observed_sample"] > 0.5 > table[0]["observed_sample"]


def test_bad_applications_get_higher_pd_and_fewer_points(card):
    scored = [(card.assess(r), r["creditability"]) for r in load_rows()]
    mean_pd = {lab: sum(a["pd_pct"] for a, l in scored if l == lab) / sum(l == lab for _, l in scored) for lab in ("good", "bad")}
    assert mean_pd["bad"] > 2.5 * mean_pd["good"]
    # Ordered by log-odds of bad, PD rises and points fall (both are monotone maps of the log-odds).
    ordered = [card.assess(r) for r in sorted(load_rows(), key=card.sample_log_odds)]
    assert all(x["pd_pct"] <= y["pd_pct"] and x["score_points"] >= y["score_points"] for x, y in zip(ordered, ordered[1:]))


def test_points_scaling_doubles_odds_every_20_points(card):
    # score = offset + factor * ln(odds good:bad): 600 points at 50:1, 20 points to double the odds.
    assert card.offset + card.factor * math.log(50) == pytest.approx(600)
    assert card.factor * math.log(2) == pytest.approx(20)
    assert scorecard.score_points(-math.log(50)) == 600 and scorecard.score_points(-math.log(100)) == 620


def test_protected_attributes_and_excluded_characteristics_are_not_scored(card):
    assert not set(PROTECTED_ATTRIBUTES) & set(scorecard.CHARACTERISTICS)
    assert not set(scorecard.EXCLUDED) & set(scorecard.CHARACTERISTICS)
    assert {"housing", "job", "installment_rate_in_percentage_of_disposable_income"} <= set(scorecard.EXCLUDED)
    assert set(card.weights) == set(scorecard.CHARACTERISTICS)
    row = dict(load_rows()[0])
    changed = {**row, "personal_status_and_sex": "female : divorced/separated/married", "age_in_years": 19,
               "foreign_worker": "no", "housing": "rent", "job": "unskilled - resident"}
    assert card.assess(changed) == card.assess(row)


def test_longer_term_raises_pd_all_else_equal(card):
    row = dict(load_rows()[0])
    pds = [card.assess({**row, "duration_in_month": d})["pd_pct"] for d in (6, 18, 30, 48)]
    assert pds == sorted(pds) and pds[-1] > pds[0]


def test_bin_labels():
    assert scorecard.bin_label([12, 24, 36], 12) == "<=12"
    assert scorecard.bin_label([12, 24, 36], 13) == "12<..<=24"
    assert scorecard.bin_label([12, 24, 36], 60) == ">36"
    assert scorecard.bin_label([], 5) == "all"


def test_principal_factors_rank_points_below_the_best_attribute(card):
    worst = max(load_rows(), key=lambda r: card.assess(r)["pd_pct"])
    assessed = card.assess(worst)
    factors = assessed["principal_factors"]
    assert len(factors) == scorecard.PRINCIPAL_FACTORS
    points = [f["points_below_best"] for f in factors]
    assert points == sorted(points, reverse=True) and points[-1] >= scorecard.MIN_POINTS_BELOW_BEST
    assert assessed["top_risk_factors"] == [f["characteristic"] for f in factors[:scorecard.TOP_RISK_FACTORS]]
    # Moving a characteristic to its best attribute earns back exactly its points below best.
    lost = {c: p for p, c in card.points_below_best(worst)}
    c = "status_of_existing_checking_account"
    best = min(card.weights[c], key=card.weights[c].get)
    assert lost[c] > 10
    gained = card.assess({**worst, c: best})["score_points"] - assessed["score_points"]
    assert gained == pytest.approx(lost[c], abs=1.0)
