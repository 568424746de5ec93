"""Fair-lending review: groups, approval rates, adverse impact ratios, and the less-discriminatory-
alternative search's rule and outcome."""

from __future__ import annotations

import math

import pytest

from reference_agents.credit_underwriting import fair_lending
from reference_agents.credit_underwriting.fair_lending import Candidate
from reference_agents.credit_underwriting.policy import load_policy
from reference_agents.credit_underwriting.tools import scorecard


def test_groups_use_the_corrected_meanings():
    g = fair_lending.groups()
    assert all(len(v) == 1000 for v in g.values())
    assert {k: g["sex"].count(k) for k in set(g["sex"])} == {
        "male": 598, "female": 92, "female non-single or male single": 310}
    assert g["foreign worker"].count("yes") == 37
    assert g["age"].count("under 25") == 149
    assert [fair_lending.age_band(a) for a in (18, 24, 25, 49, 50, 75)] == ["18-24", "18-24", "25-34", "35-49", "50+", "50+"]
    with pytest.raises(ValueError):
        fair_lending.age_band(17)


def test_approval_rates_and_adverse_impact_ratio():
    rates = fair_lending.approval_rates([True, False, True, True, False, False], ["a", "a", "b", "b", "b", "c"])
    assert rates == {"a": (2, 0.5), "b": (3, pytest.approx(2 / 3)), "c": (1, 0.0)}
    assert fair_lending.adverse_impact_ratio(rates, "a", "b") == pytest.approx(0.75)
    assert math.isnan(fair_lending.adverse_impact_ratio(rates, "a", "c"))


def test_bad_rate_among_approved_is_reweighted_to_the_prior():
    everyone = [True] * 1000
    assert fair_lending.population_bad_rate_among(everyone, 0.05) == pytest.approx(0.05)
    assert fair_lending.population_bad_rate_among(everyone, 0.10) == pytest.approx(0.10)


def _candidate(dropped=(), auc=0.78, approval=0.60, bad=0.020, age=0.78, cutoff=7.5) -> Candidate:
    return Candidate(dropped=dropped, referral_cutoff_pct=cutoff, auc=auc, approval_rate=approval,
                     bad_rate_approved=bad, ratios={"age": age, "sex": 1.0, "foreign worker": 1.0})


def test_the_search_picks_the_highest_age_ratio_at_similar_accuracy():
    base = _candidate()
    fairer = _candidate(("housing",), age=0.84, auc=0.777, bad=0.0209)
    fairest_but_weaker = _candidate(("credit_history",), age=0.90, auc=0.77)  # loses 0.01 AUC
    fairest_but_riskier = _candidate(("job",), age=0.92, bad=0.0211)  # bad rate +5.5 %
    fairest_but_stingier = _candidate(("telephone",), age=0.95, approval=0.585)  # approves 1.5 pp fewer
    assert fair_lending.choose(base, [base, fairer, fairest_but_weaker, fairest_but_riskier, fairest_but_stingier]) is fairer
    assert fair_lending.choose(base, [base, fairest_but_weaker]) is base


def test_the_adopted_scorecard_is_a_less_discriminatory_alternative_at_similar_accuracy():
    baseline = fair_lending.evaluate((), referral_cutoffs=(7.5,), repeats=1)[0]
    adopted = fair_lending.evaluate(tuple(scorecard.EXCLUDED_BY_FAIR_LENDING), referral_cutoffs=(7.5,), repeats=1)[0]
    assert adopted.characteristics == scorecard.CHARACTERISTICS
    assert load_policy().thresholds["pd_referral_cutoff_pct"] == adopted.referral_cutoff_pct
    assert fair_lending.similar_accuracy(baseline, adopted)
    assert adopted.ratios["age"] > baseline.ratios["age"] + 0.03
    # no other protected group is pushed below four-fifths
    assert adopted.ratios["sex"] > fair_lending.FOUR_FIFTHS and adopted.ratios["foreign worker"] > fair_lending.FOUR_FIFTHS
