"""Unsupervised anomaly score of a transaction against the customer's own history.

A scikit-learn :class:`~sklearn.ensemble.IsolationForest` (Liu, Ting & Zhou, "Isolation
Forest", ICDM 2008) is fitted on the customer's history, one row per earlier transaction,
and scores the new one. The returned ``anomaly_score`` is the paper's
``s(x, n) = 2 ** (-E[h(x)] / c(n))`` (``-IsolationForest.score_samples``): about 0.5 for
ordinary points, towards 1 for points isolated in few splits.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import IsolationForest

from reference_agents.fraud_detection.tools.features import coordinates, parse_time, sort_by_time
from reference_agents.fraud_detection.tools.geo import distances_km, medoid

REMOTE_CHANNELS = ("card_not_present", "mail_phone_order")  # the card is not at the merchant: e-commerce, mail/phone
MODEL_FEATURES = (
    "ln_amount",
    "ln1p_distance_from_home_km",
    "ln1p_minutes_since_previous_txn",
    "mcc_history_share",
    "card_not_present",
)


def _rows(transactions: list[dict], previous_times: list, home: np.ndarray, mcc_shares: list[float]) -> np.ndarray:
    distance_home = distances_km(coordinates(transactions), home[None, :])[:, 0]
    gaps_minutes = [
        max((parse_time(t["timestamp"]) - prev).total_seconds() / 60.0, 0.0)
        for t, prev in zip(transactions, previous_times)
    ]
    return np.column_stack(
        [
            np.log([t["amount"] for t in transactions]),
            np.log1p(distance_home),
            np.log1p(gaps_minutes),
            mcc_shares,
            [1.0 if t["channel"] in REMOTE_CHANNELS else 0.0 for t in transactions],
        ]
    )


def training_matrix(history: list[dict]) -> np.ndarray:
    """Model rows of the history, shape ``(n - 1, len(MODEL_FEATURES))`` for n time-sorted
    transactions (the first has no predecessor, so no time gap, and is left out). A row's MCC
    share counts the other history transactions only (leave-one-out)."""
    history = sort_by_time(history)
    n = len(history)
    home = medoid(coordinates(history))
    mccs = [h["mcc"] for h in history]
    shares = [(mccs.count(h["mcc"]) - 1) / (n - 1) for h in history[1:]]
    previous = [parse_time(h["timestamp"]) for h in history[:-1]]
    return _rows(history[1:], previous, home, shares)


def subject_vector(txn: dict, history: list[dict]) -> np.ndarray:
    """Model row of ``txn`` against the history, shape ``(1, len(MODEL_FEATURES))``."""
    history = sort_by_time(history)
    mccs = [h["mcc"] for h in history]
    home = medoid(coordinates(history))
    return _rows([txn], [parse_time(history[-1]["timestamp"])], home, [mccs.count(txn["mcc"]) / len(history)])


def anomaly_score(txn: dict, history: list[dict], model_policy: dict) -> dict | None:
    """Fit an IsolationForest on ``history`` and score ``txn``.

    Args:
        model_policy: the policy's ``model`` section (``enabled``, ``n_estimators``,
            ``random_state``, ``min_history``).

    Returns:
        ``{"anomaly_score": s in (0, 1], "n_train_rows", "n_estimators", "features"}``, or ``None``
        when the model is disabled or the history has fewer than ``min_history`` transactions.
    """
    if not model_policy["enabled"] or len(history) < model_policy["min_history"]:
        return None
    X = training_matrix(history)
    forest = IsolationForest(
        n_estimators=model_policy["n_estimators"], random_state=model_policy["random_state"], n_jobs=1
    ).fit(X)
    score = float(-forest.score_samples(subject_vector(txn, history))[0])
    return {
        "anomaly_score": score,
        "n_train_rows": int(X.shape[0]),
        "n_estimators": int(model_policy["n_estimators"]),
        "features": list(MODEL_FEATURES),
    }
