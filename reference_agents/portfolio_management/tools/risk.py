"""Risk model: Ledoit-Wolf shrinkage covariance and historical VaR / CVaR.

Sources: Ledoit & Wolf (2004), "Honey, I Shrunk the Sample Covariance Matrix", J. Portfolio
Management 30(4) and "A well-conditioned estimator for large-dimensional covariance matrices"
(2004), J. Multivariate Analysis 88(2) — scikit-learn's ``ledoit_wolf`` (scaled-identity target,
the estimator PyPortfolioOpt's ``CovarianceShrinkage`` wraps); historical-simulation VaR as in Jorion, "Value at Risk" (3rd ed.),
ch. 10; CVaR / expected shortfall as in Acerbi & Tasche (2002), J. Banking & Finance 26(7).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.covariance import ledoit_wolf

TRADING_DAYS_PER_YEAR = 252
CASH = "CASH"


def shrinkage_covariance(closes: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """Annualised Ledoit-Wolf covariance of daily simple returns and its shrinkage intensity.

    Args:
        closes: daily closes, rows = trading days, columns = tickers (>= 3 rows).

    Returns:
        ``(cov, delta)``: ``cov`` is an ``n x n`` DataFrame (annual variance units: daily x 252,
        tickers on both axes), positive semi-definite by construction (a convex combination of
        the sample covariance and a scaled identity); ``delta`` in [0, 1] is the weight on the
        identity target.
    """
    returns = daily_returns(closes)
    shrunk, delta = ledoit_wolf(returns.to_numpy())
    cov = pd.DataFrame(shrunk * TRADING_DAYS_PER_YEAR, index=closes.columns, columns=closes.columns)
    return cov, float(delta)


def daily_returns(closes: pd.DataFrame) -> pd.DataFrame:
    """Simple daily returns ``close[t] / close[t-1] - 1``; one row fewer than ``closes``."""
    return closes.pct_change().iloc[1:]


def portfolio_returns(returns: pd.DataFrame, weights: dict[str, float]) -> pd.Series:
    """Daily returns of a portfolio held at constant ``weights`` (rebalanced daily).

    ``weights`` maps tickers (columns of ``returns``) and optionally ``"CASH"`` (zero return)
    to fractions of portfolio value.

    Raises:
        KeyError: a weight names a ticker not in ``returns``.
    """
    risky = {t: w for t, w in weights.items() if t != CASH and w != 0.0}
    missing = sorted(set(risky) - set(returns.columns))
    if missing:
        raise KeyError(f"no returns for {missing}")
    if not risky:
        return pd.Series(0.0, index=returns.index)
    tickers = list(risky)
    return returns[tickers] @ np.array([risky[t] for t in tickers])


def historical_var_cvar(returns: np.ndarray | pd.Series, confidence: float = 0.95) -> tuple[float, float]:
    """Historical-simulation 1-period VaR and CVaR, as positive fractions of portfolio value.

    ``VaR = -q`` where ``q`` is the ``1 - confidence`` empirical quantile of ``returns`` (numpy's
    default linear interpolation); ``CVaR`` is minus the mean of the returns at or below ``q``
    (the average loss in the tail beyond VaR).

    Raises:
        ValueError: ``returns`` is empty or ``confidence`` is not in (0, 1).
    """
    r = np.asarray(returns, dtype=float)
    if r.size == 0:
        raise ValueError("VaR needs at least one return")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    q = float(np.quantile(r, 1.0 - confidence))
    return -q, -float(r[r <= q].mean())


def annualised_volatility(returns: np.ndarray | pd.Series) -> float:
    """Sample standard deviation (ddof=1) of daily returns times sqrt(252), as a fraction."""
    return float(np.std(np.asarray(returns, dtype=float), ddof=1) * np.sqrt(TRADING_DAYS_PER_YEAR))


def risk_report(returns: pd.DataFrame, weights: dict[str, float], confidence: float) -> dict:
    """VaR, CVaR (1-day, % of value) and annualised volatility (%) of a weight vector.

    Returns ``{"var_1d_pct", "cvar_1d_pct", "volatility_annual_pct", "confidence", "n_days"}``.
    """
    r = portfolio_returns(returns, weights)
    var, cvar = historical_var_cvar(r, confidence)
    return {
        "var_1d_pct": round(100.0 * var, 4),
        "cvar_1d_pct": round(100.0 * cvar, 4),
        "volatility_annual_pct": round(100.0 * annualised_volatility(r), 4),
        "confidence": confidence,
        "n_days": int(len(r)),
    }
