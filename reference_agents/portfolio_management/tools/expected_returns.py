"""Expected returns for the optimiser: Bayes-Stein shrinkage of the lookback's mean returns.

Sample means of three years of daily returns are mostly noise (the standard error of a stock's
annual mean is about its volatility / sqrt(3), ~15 % a year), and a mean-variance optimiser fed
raw means puts nearly everything on the few assets that did best in the window (a corner
solution). Jorion's Bayes-Stein estimator shrinks each mean toward the mean return of the
minimum-variance portfolio, by an amount the data determine:

    mu0 = (1' S^-1 m) / (1' S^-1 1)
    w   = (N + 2) / ((N + 2) + T (m - mu0 1)' S^-1 (m - mu0 1))
    mu  = (1 - w) m + w mu0 1

with ``m`` the sample mean of ``T`` daily returns of ``N`` assets and ``S = (T - 1) / (T - N - 2)``
times their sample covariance. Source: Jorion (1986), "Bayes-Stein Estimation for Portfolio
Analysis", J. Financial and Quantitative Analysis 21(3), eq. (17)-(19); the James-Stein idea
behind it: James & Stein (1961), Proc. Fourth Berkeley Symposium 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reference_agents.portfolio_management.tools.risk import TRADING_DAYS_PER_YEAR, daily_returns


def bayes_stein_returns(closes: pd.DataFrame) -> tuple[pd.Series, float]:
    """Bayes-Stein expected annual returns of the tickers in ``closes``, and the shrinkage weight.

    Args:
        closes: adjusted daily closes (rows = trading days, columns = tickers); needs more than
            ``N + 3`` rows for ``N`` tickers.

    Returns:
        ``(mu, w)``: ``mu`` per ticker as an annual fraction (daily mean x 252, arithmetic);
        ``w`` in (0, 1] is the weight on the minimum-variance portfolio's mean (1 = the data
        cannot tell the assets' means apart).

    Raises:
        ValueError: too few rows for the number of tickers.
    """
    r = daily_returns(closes).to_numpy()
    t, n = r.shape
    if t <= n + 2:
        raise ValueError(f"Bayes-Stein needs more than {n + 2} daily returns for {n} tickers, got {t}")
    m = r.mean(axis=0)
    s = np.cov(r, rowvar=False, ddof=1).reshape(n, n) * (t - 1) / (t - n - 2)
    s_inv_one = np.linalg.solve(s, np.ones(n))
    mu0 = float(s_inv_one @ m / s_inv_one.sum())
    d = m - mu0
    w = float((n + 2) / ((n + 2) + t * d @ np.linalg.solve(s, d)))
    mu = ((1.0 - w) * m + w * mu0) * TRADING_DAYS_PER_YEAR
    return pd.Series(mu, index=closes.columns), w
