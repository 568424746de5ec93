"""Application scorecard: a logistic-regression probability of default (PD) with points.

Method (the classic credit scorecard, e.g. Siddiqi, *Credit Risk Scorecards*, 2006):
each characteristic is coarse-classed into attributes (fixed bins for duration and amount,
the data's own categories/codes otherwise), one-hot encoded, and a L2-regularised
logistic regression (scikit-learn) is fitted with ``bad`` as the event. The fitted
coefficients form a points table, so scoring one application is a dictionary lookup
(microseconds, no sklearn call per run). Points use the standard scaling
``score = offset + factor * ln(odds good:bad)`` with ``factor = PDO / ln 2``.

The model is fitted on the same 1,000 public applications it is demonstrated on
(in-sample); its 5-fold cross-validated ROC AUC is reported by :func:`cross_validated_auc`.
Protected attributes (sex/marital status, age, foreign worker) are not characteristics.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping

from reference_agents.credit_underwriting.tools.data import (
    CATEGORICAL_ATTRIBUTES,
    LABEL,
    NUMERIC_ATTRIBUTES,
    PROTECTED_ATTRIBUTES,
    load_rows,
)

# Upper bin edges (inclusive), chosen at round values where the bad rate in the data steps up.
NUMERIC_BINS: dict[str, tuple[int, ...]] = {
    "duration_in_month": (12, 24, 36),
    "credit_amount": (1500, 3000, 5000, 8000, 12000),
}
CHARACTERISTICS: tuple[str, ...] = tuple(
    a for a in CATEGORICAL_ATTRIBUTES + NUMERIC_ATTRIBUTES if a not in PROTECTED_ATTRIBUTES
)
REGULARISATION_C = 0.3  # inverse L2 strength; CV AUC is flat (0.781-0.784) for C in 0.05-1
BASE_SCORE_POINTS = 600  # score at the base odds
BASE_ODDS_GOOD_TO_BAD = 50.0
POINTS_TO_DOUBLE_ODDS = 20.0
TOP_RISK_FACTORS = 3


def attribute_of(characteristic: str, value: int | str) -> str:
    """The coarse class (attribute) of one characteristic's value, as a string.

    Binned numerics give ``"<=12"``, ``"12<..<=24"``, ``">36"``; other values give ``str(value)``.
    """
    edges = NUMERIC_BINS.get(characteristic)
    if edges is None:
        return str(value)
    i = bisect_left(edges, value)
    if i == 0:
        return f"<={edges[0]}"
    if i == len(edges):
        return f">{edges[-1]}"
    return f"{edges[i - 1]}<..<={edges[i]}"


def design_row(application: Mapping) -> list[str]:
    """The attributes of an application in :data:`CHARACTERISTICS` order (one model row)."""
    return [attribute_of(c, application[c]) for c in CHARACTERISTICS]


def training_data() -> tuple[list[list[str]], list[int]]:
    """Design rows and targets (1 = ``bad``) of all 1,000 applications."""
    rows = load_rows()
    return [design_row(r) for r in rows], [int(r[LABEL] == "bad") for r in rows]


def make_pipeline():
    """An unfitted ``OneHotEncoder -> LogisticRegression`` scikit-learn pipeline (deterministic lbfgs)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline as sk_make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    return sk_make_pipeline(
        OneHotEncoder(handle_unknown="ignore"),
        LogisticRegression(C=REGULARISATION_C, max_iter=2000),
    )


def cross_validated_auc(folds: int = 5) -> float:
    """Mean ROC AUC of :func:`make_pipeline` over stratified ``folds`` (shuffled, seed 0)."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    X, y = training_data()
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    return float(cross_val_score(make_pipeline(), X, y, cv=cv, scoring="roc_auc").mean())


@dataclass(frozen=True)
class Scorecard:
    """A fitted points table.

    Attributes:
        intercept: log-odds of ``bad`` with every attribute weight zero.
        weights: ``characteristic -> attribute -> log-odds weight`` (positive = riskier).
        factor: points per unit of log-odds, ``PDO / ln 2``.
        offset: points at log-odds 0 (``base_score - factor * ln(base_odds)``).
    """

    intercept: float
    weights: dict[str, dict[str, float]]
    factor: float
    offset: float

    def log_odds_bad(self, application: Mapping) -> float:
        """ln(PD / (1 - PD)) of an application (unseen attributes weigh 0, as the encoder ignores them)."""
        return self.intercept + sum(
            self.weights[c].get(a, 0.0) for c, a in zip(CHARACTERISTICS, design_row(application))
        )

    def assess(self, application: Mapping) -> dict:
        """Score one application (a mapping with at least the :data:`CHARACTERISTICS`).

        Returns:
            ``{"pd_pct": PD in percent (0-100), "score_points": int (higher = safer),
            "top_risk_factors": up to 3 characteristics that cost the most points relative to
            their best attribute (adverse-action style), most costly first}``.
        """
        z = self.log_odds_bad(application)
        pd = 1.0 / (1.0 + math.exp(-z))
        lost = []
        for c, a in zip(CHARACTERISTICS, design_row(application)):
            w = self.weights[c]
            points_lost = self.factor * (w.get(a, 0.0) - min(w.values()))
            if points_lost > 0.5:
                lost.append((points_lost, c))
        lost.sort(reverse=True)
        return {
            "pd_pct": round(100.0 * pd, 2),
            "score_points": round(self.offset - self.factor * z),
            "top_risk_factors": [c for _, c in lost[:TOP_RISK_FACTORS]],
        }


@lru_cache(maxsize=1)
def fitted_pipeline():
    """The pipeline fitted on all 1,000 applications (once per process)."""
    X, y = training_data()
    return make_pipeline().fit(X, y)


@lru_cache(maxsize=1)
def fitted_scorecard() -> Scorecard:
    """The points table read off :func:`fitted_pipeline` (once per process)."""
    encoder, model = fitted_pipeline().steps[0][1], fitted_pipeline().steps[1][1]
    coefs = iter(model.coef_[0])
    weights = {c: {str(a): float(next(coefs)) for a in cats} for c, cats in zip(CHARACTERISTICS, encoder.categories_)}
    factor = POINTS_TO_DOUBLE_ODDS / math.log(2)
    return Scorecard(
        intercept=float(model.intercept_[0]),
        weights=weights,
        factor=factor,
        offset=BASE_SCORE_POINTS - factor * math.log(BASE_ODDS_GOOD_TO_BAD),
    )
