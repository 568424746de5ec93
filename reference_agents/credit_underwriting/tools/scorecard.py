"""Application scorecard: a logistic-regression probability of default (PD) with points.

Method (the classic credit scorecard, e.g. Siddiqi, *Credit Risk Scorecards*, 2006): each
characteristic is coarse-classed into attributes, one-hot encoded, and an L2-regularised logistic
regression (scikit-learn) is fitted with ``bad`` as the event. The fitted coefficients form a
points table, so scoring one application is a dictionary lookup (microseconds, no sklearn call per
run). Points use the standard scaling ``score = offset + factor * ln(odds good:bad)`` with
``factor = PDO / ln 2``.

**Coarse classes are learnt.** Term and amount are cut into at most five bins by a CART tree with a
monotonic constraint (bad rate rising or falling with the value, the direction taken from the
training rows), each bin holding at least 5 % of them; categories are the data's own. The bins
are a fitted step of the pipeline (:class:`CoarseClassing`), so cross-validation chooses them
inside each training fold and the reported AUC is out of sample (:func:`cross_validated_auc`).

**PD is corrected for the sample design.** The 1,000 applications are a stratified sample with bad
credits heavily oversampled (30 % bad). The logistic intercept is shifted by
``logit(population bad rate) - logit(sample bad rate)`` (prior correction: King and Zeng, 2001,
*Logistic Regression in Rare Events Data*, Political Analysis 9(2); Elkan, 2001, *The Foundations of
Cost-Sensitive Learning*, Theorem 2), so ``pd_pct`` is a population probability. The population
rate is the policy's ``population_bad_rate_pct`` (default 5 %, an assumption: see the README).

**Default definition and horizon.** ``bad`` is the data's label: the credit contract was not
complied with (Grömping 2019's code table), observed over the contract's term (4-72 months, credits
granted 1973-1975). The PD is that probability over the credit's term, not a 12-month PD.

Protected attributes (sex/marital status, age, foreign worker) are never characteristics; neither
are the characteristics dropped by validation or by the fair-lending search (:data:`EXCLUDED`).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping, Sequence

from sklearn.base import BaseEstimator, TransformerMixin

from reference_agents.credit_underwriting.tools.data import (
    CATEGORICAL_ATTRIBUTES,
    LABEL,
    NUMERIC_ATTRIBUTES,
    PROTECTED_ATTRIBUTES,
    load_rows,
)

# Every attribute of the data a scorecard could use (the protected ones never).
CANDIDATE_CHARACTERISTICS: tuple[str, ...] = tuple(
    a for a in CATEGORICAL_ATTRIBUTES + NUMERIC_ATTRIBUTES if a not in PROTECTED_ATTRIBUTES
)
# Why each candidate is not in the adopted scorecard (figures: bench/model_review_credit.py, README).
EXCLUDED_BY_VALIDATION: dict[str, str] = {
    "installment_rate_in_percentage_of_disposable_income":
        "counter-intuitive: once correctly coded, a lower installment burden scores as riskier "
        "(bad rate 25.0 % at >= 35 % of income, 33.4 % at < 20 %); no AUC lost without it; the "
        "policy's affordability limit reads it instead",
    "present_residence_since": "not monotone in residence length and no AUC lost without it",
    "property": "counter-intuitive once correctly coded (real estate owners score riskiest); no AUC lost without it",
    "number_of_people_being_liable_to_provide_maintenance_for": "carries no information (weight ~0)",
}
EXCLUDED_BY_FAIR_LENDING: dict[str, str] = {
    "housing": "age proxy (living for free: 46 % of applicants under 25, 13 % of the others); dropped by "
               "the less-discriminatory-alternative search (fair_lending.py) at similar accuracy",
    "job": "age proxy (managerial jobs: 3 % under 25, 17 % of the others); dropped by the "
           "less-discriminatory-alternative search (fair_lending.py) at similar accuracy",
}
EXCLUDED = EXCLUDED_BY_VALIDATION | EXCLUDED_BY_FAIR_LENDING
CHARACTERISTICS: tuple[str, ...] = tuple(c for c in CANDIDATE_CHARACTERISTICS if c not in EXCLUDED)
BINNED_CHARACTERISTICS = ("duration_in_month", "credit_amount")
MAX_BINS = 5
MIN_BIN_SHARE = 0.05  # of the training rows, per bin
REGULARISATION_C = 0.3  # inverse L2 strength; CV AUC is flat (within 0.005) for C in 0.1-1
BASE_SCORE_POINTS = 600  # score at the base odds
BASE_ODDS_GOOD_TO_BAD = 50.0
POINTS_TO_DOUBLE_ODDS = 20.0
TOP_RISK_FACTORS = 3
PRINCIPAL_FACTORS = 4  # adverse-action notices give at most four principal reasons
MIN_POINTS_BELOW_BEST = 0.5  # a characteristic costing less is not a reason
DEFAULT_POPULATION_BAD_RATE = 0.05  # policy.yaml's population_bad_rate_pct, which the graph passes


def bin_label(edges: Sequence[int], value: int) -> str:
    """The coarse class of ``value`` for upper bin ``edges`` (inclusive): ``"<=12"``, ``"12<..<=24"``, ``">36"``."""
    if not edges:
        return "all"
    i = bisect_left(edges, value)
    if i == 0:
        return f"<={edges[0]}"
    if i == len(edges):
        return f">{edges[-1]}"
    return f"{edges[i - 1]}<..<={edges[i]}"


class CoarseClassing(BaseEstimator, TransformerMixin):
    """Applications -> attribute strings, with the bins of the binned characteristics learnt in ``fit``.

    Args:
        characteristics: the characteristics to output, in order.
        max_bins: at most this many bins per binned characteristic.
        min_bin_share: each bin holds at least this share of the training rows.

    ``fit(rows, y)`` takes a sequence of mappings (applications) and 0/1 targets (1 = bad) and sets
    ``edges_`` (characteristic -> sorted upper bin edges, integers); ``transform(rows)`` returns one
    list of attribute strings per row (:func:`bin_label` for binned characteristics, ``str(value)``
    otherwise).
    """

    def __init__(self, characteristics: tuple[str, ...] = CHARACTERISTICS, max_bins: int = MAX_BINS,
                 min_bin_share: float = MIN_BIN_SHARE):
        self.characteristics = characteristics
        self.max_bins = max_bins
        self.min_bin_share = min_bin_share

    def fit(self, rows: Sequence[Mapping], y: Sequence[int]) -> "CoarseClassing":
        from scipy.stats import spearmanr
        from sklearn.tree import DecisionTreeClassifier

        self.edges_: dict[str, list[int]] = {}
        for c in BINNED_CHARACTERISTICS:
            if c not in self.characteristics:
                continue
            x = [[r[c]] for r in rows]
            # The bad rate may only rise (or only fall) across bins: a scorecard's points stay explainable.
            direction = 1 if spearmanr([v[0] for v in x], y).statistic >= 0 else -1
            tree = DecisionTreeClassifier(max_leaf_nodes=self.max_bins, monotonic_cst=[direction], random_state=0,
                                          min_samples_leaf=max(1, math.ceil(self.min_bin_share * len(rows))))
            tree.fit(x, y)
            # Integer values: a split at t (a midpoint) puts floor(t) in the lower bin.
            self.edges_[c] = sorted({math.floor(t) for f, t in zip(tree.tree_.feature, tree.tree_.threshold) if f >= 0})
        return self

    def transform(self, rows: Sequence[Mapping]) -> list[list[str]]:
        return [[bin_label(self.edges_[c], r[c]) if c in self.edges_ else str(r[c]) for c in self.characteristics]
                for r in rows]


def training_data() -> tuple[list[dict], list[int]]:
    """All 1,000 applications and their targets (1 = ``bad``)."""
    rows = load_rows()
    return list(rows), [int(r[LABEL] == "bad") for r in rows]


def make_pipeline(characteristics: tuple[str, ...] = CHARACTERISTICS):
    """An unfitted ``CoarseClassing -> OneHotEncoder -> LogisticRegression`` pipeline (deterministic lbfgs)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline as sk_make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    return sk_make_pipeline(
        CoarseClassing(characteristics),
        OneHotEncoder(handle_unknown="ignore"),
        LogisticRegression(C=REGULARISATION_C, max_iter=2000),
    )


def cross_validated_auc(characteristics: tuple[str, ...] = CHARACTERISTICS, folds: int = 5, repeats: int = 10,
                        seed: int = 0) -> tuple[float, float]:
    """ROC AUC of :func:`make_pipeline` over repeated stratified ``folds``-fold CV (bins chosen inside each fold).

    Returns:
        ``(mean, sample standard deviation)`` over the ``folds * repeats`` held-out folds.
    """
    import numpy as np
    from sklearn.model_selection import RepeatedStratifiedKFold, cross_val_score

    X, y = training_data()
    cv = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    scores = cross_val_score(make_pipeline(characteristics), X, y, cv=cv, scoring="roc_auc")
    return float(np.mean(scores)), float(np.std(scores, ddof=1))


def out_of_fold_sample_pd(characteristics: tuple[str, ...] = CHARACTERISTICS, folds: int = 5, seed: int = 0) -> list[float]:
    """Each application's PD on the sample scale (30 % bad) from a model fitted without it (stratified folds)."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    X, y = training_data()
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [float(p) for p in cross_val_predict(make_pipeline(characteristics), X, y, cv=cv, method="predict_proba")[:, 1]]


@lru_cache(maxsize=1)
def sample_bad_rate() -> float:
    """Share of ``bad`` in the data (0.3: 300 of 1,000, by the sample design)."""
    _, y = training_data()
    return sum(y) / len(y)


@lru_cache(maxsize=16)
def prior_shift(population_bad_rate: float) -> float:
    """Log-odds added to a sample-scale score to get population-scale log-odds of ``bad``.

    Raises:
        ValueError: the rate is not strictly between 0 and 1.
    """
    if not 0.0 < population_bad_rate < 1.0:
        raise ValueError(f"population bad rate must lie in (0, 1), got {population_bad_rate}")
    rho = sample_bad_rate()
    return math.log(population_bad_rate / (1 - population_bad_rate)) - math.log(rho / (1 - rho))


def score_points(population_log_odds_bad: float) -> int:
    """Points for population log-odds of ``bad``: 600 at 50:1 good:bad, 20 more per doubling of the odds."""
    factor = POINTS_TO_DOUBLE_ODDS / math.log(2)
    return round(BASE_SCORE_POINTS - factor * (population_log_odds_bad + math.log(BASE_ODDS_GOOD_TO_BAD)))


def population_pd(sample_pd: float, population_bad_rate: float = DEFAULT_POPULATION_BAD_RATE) -> float:
    """A sample-scale PD (0-1) corrected to the population prior (0-1)."""
    z = math.log(sample_pd / (1 - sample_pd)) + prior_shift(population_bad_rate)
    return 1.0 / (1.0 + math.exp(-z))


@dataclass(frozen=True)
class Scorecard:
    """A fitted points table.

    Attributes:
        intercept: sample-scale log-odds of ``bad`` with every attribute weight zero.
        weights: ``characteristic -> attribute -> log-odds weight`` (positive = riskier).
        edges: the learnt upper bin edges of the binned characteristics.
        factor: points per unit of log-odds, ``PDO / ln 2``.
        offset: points at log-odds 0 (``base_score - factor * ln(base_odds)``).
    """

    intercept: float
    weights: dict[str, dict[str, float]]
    edges: dict[str, list[int]]
    factor: float
    offset: float

    def attributes(self, application: Mapping) -> list[str]:
        """The application's attribute (coarse class) per characteristic, in :data:`CHARACTERISTICS` order."""
        return [bin_label(self.edges[c], application[c]) if c in self.edges else str(application[c])
                for c in self.weights]

    def sample_log_odds(self, application: Mapping) -> float:
        """ln(PD / (1 - PD)) on the sample scale (unseen attributes weigh 0, as the encoder ignores them)."""
        return self.intercept + sum(w.get(a, 0.0) for w, a in zip(self.weights.values(), self.attributes(application)))

    def log_odds_bad(self, application: Mapping, population_bad_rate: float = DEFAULT_POPULATION_BAD_RATE) -> float:
        """ln(PD / (1 - PD)) at the population prior."""
        return self.sample_log_odds(application) + prior_shift(population_bad_rate)

    def points_below_best(self, application: Mapping) -> list[tuple[float, str]]:
        """``(points, characteristic)`` lost against each characteristic's best attribute, most first.

        The "points below maximum" method of adverse-action reasons: a characteristic's shortfall is
        the points of the applicant's attribute minus the most points any of its attributes earns.
        """
        lost = [(self.factor * (w.get(a, 0.0) - min(w.values())), c)
                for (c, w), a in zip(self.weights.items(), self.attributes(application))]
        return sorted(lost, reverse=True)

    def assess(self, application: Mapping, population_bad_rate: float = DEFAULT_POPULATION_BAD_RATE) -> dict:
        """Score one application (a mapping with at least the :data:`CHARACTERISTICS`).

        Returns:
            ``{"pd_pct": population PD in percent (0-100), "score_points": int (higher = safer),
            "top_risk_factors": up to 3 characteristics costing the most points,
            "principal_factors": up to 4 ``{"characteristic", "points_below_best"}`` (points, 1 decimal),
            most costly first, each costing at least 0.5 points}``.
        """
        z = self.log_odds_bad(application, population_bad_rate)
        lost = [(p, c) for p, c in self.points_below_best(application) if p >= MIN_POINTS_BELOW_BEST]
        return {
            "pd_pct": round(100.0 / (1.0 + math.exp(-z)), 2),
            "score_points": round(self.offset - self.factor * z),
            "top_risk_factors": [c for _, c in lost[:TOP_RISK_FACTORS]],
            "principal_factors": [{"characteristic": c, "points_below_best": round(p, 1)} for p, c in lost[:PRINCIPAL_FACTORS]],
        }


@lru_cache(maxsize=1)
def fitted_pipeline():
    """The pipeline fitted on all 1,000 applications (once per process)."""
    X, y = training_data()
    return make_pipeline().fit(X, y)


@lru_cache(maxsize=1)
def fitted_scorecard() -> Scorecard:
    """The points table read off :func:`fitted_pipeline` (once per process)."""
    classing, encoder, model = (step for _, step in fitted_pipeline().steps)
    coefs = iter(model.coef_[0])
    weights = {c: {str(a): float(next(coefs)) for a in cats} for c, cats in zip(CHARACTERISTICS, encoder.categories_)}
    factor = POINTS_TO_DOUBLE_ODDS / math.log(2)
    return Scorecard(
        intercept=float(model.intercept_[0]),
        weights=weights,
        edges={c: list(e) for c, e in classing.edges_.items()},
        factor=factor,
        offset=BASE_SCORE_POINTS - factor * math.log(BASE_ODDS_GOOD_TO_BAD),
    )
