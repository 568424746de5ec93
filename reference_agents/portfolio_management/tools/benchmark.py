"""Performance of a portfolio against the S&P 500 index over the same days.

The index is a price index (no dividends) while the stock data are total-return (dividend
adjusted), so excess return over the index is flattered by about the index's dividend yield.

Formulas (daily simple returns ``r``, ``n`` days, 252 trading days a year): annualised return
``prod(1 + r) ** (252 / n) - 1``; volatility ``std(r, ddof=1) * sqrt(252)``; Sharpe ratio
``(mean(r) - rf / 252) * 252 / volatility`` (Sharpe 1994, "The Sharpe Ratio", J. Portfolio
Management 21(1)); beta ``cov(r_p, r_b) / var(r_b)``; tracking error
``std(r_p - r_b, ddof=1) * sqrt(252)``; maximum drawdown ``max_t (1 - W_t / max_{s<=t} W_s)`` of
the wealth ``W`` (starting at 1). Bacon, "Practical Portfolio Performance Measurement and
Attribution" (2nd ed.), ch. 4 and 7, gives the same definitions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reference_agents.portfolio_management.tools.risk import TRADING_DAYS_PER_YEAR, annualised_volatility


def annualised_return(returns: np.ndarray) -> float:
    """Geometric annualised return (fraction) of daily simple returns."""
    r = np.asarray(returns, dtype=float)
    return float(np.prod(1.0 + r) ** (TRADING_DAYS_PER_YEAR / len(r)) - 1.0)


def sharpe_ratio(returns: np.ndarray, risk_free_rate: float) -> float | None:
    """Annualised Sharpe ratio of daily returns; ``risk_free_rate`` annual fraction. None if volatility is 0."""
    r = np.asarray(returns, dtype=float)
    vol = annualised_volatility(r)
    if vol == 0:
        return None
    return float((r.mean() - risk_free_rate / TRADING_DAYS_PER_YEAR) * TRADING_DAYS_PER_YEAR / vol)


def beta(returns: np.ndarray, benchmark_returns: np.ndarray) -> float:
    """OLS beta of ``returns`` on ``benchmark_returns`` (same length, daily).

    Raises:
        ValueError: lengths differ or the benchmark has zero variance.
    """
    r, b = np.asarray(returns, dtype=float), np.asarray(benchmark_returns, dtype=float)
    if r.shape != b.shape:
        raise ValueError(f"returns and benchmark differ in length: {r.shape} vs {b.shape}")
    var_b = np.var(b, ddof=1)
    if var_b == 0:
        raise ValueError("benchmark returns have zero variance")
    return float(np.cov(r, b, ddof=1)[0, 1] / var_b)


def tracking_error(returns: np.ndarray, benchmark_returns: np.ndarray) -> float:
    """Annualised standard deviation of active daily returns (fraction)."""
    return annualised_volatility(np.asarray(returns, dtype=float) - np.asarray(benchmark_returns, dtype=float))


def max_drawdown(returns: np.ndarray) -> float:
    """Largest peak-to-trough fall of the wealth curve (fraction, >= 0); the start (wealth 1) counts as a peak."""
    wealth = np.concatenate([[1.0], np.cumprod(1.0 + np.asarray(returns, dtype=float))])
    return float(np.max(1.0 - wealth / np.maximum.accumulate(wealth)))


def performance_summary(r: np.ndarray, risk_free_rate: float) -> dict:
    """``{"annualised_return_pct", "volatility_annual_pct", "sharpe_ratio", "max_drawdown_pct"}`` of
    daily returns ``r`` (formulas in the module docstring; ``risk_free_rate`` annual fraction)."""
    sharpe = sharpe_ratio(r, risk_free_rate)
    return {
        "annualised_return_pct": round(100.0 * annualised_return(r), 4),
        "volatility_annual_pct": round(100.0 * annualised_volatility(r), 4),
        "sharpe_ratio": None if sharpe is None else round(sharpe, 4),
        "max_drawdown_pct": round(100.0 * max_drawdown(r), 4),
    }


def compare_to_benchmark(portfolio_returns: pd.Series, index_closes: pd.Series, risk_free_rate: float) -> dict:
    """Portfolio vs S&P 500 over the same days.

    Args:
        portfolio_returns: daily returns of the portfolio, indexed by date.
        index_closes: index closes including the day before the first return.
        risk_free_rate: annual fraction.

    Returns:
        ``{"portfolio": {...}, "benchmark": {...}, "beta", "tracking_error_annual_pct",
        "excess_return_annual_pct", "n_days", "start_date", "end_date"}`` where each side has
        ``annualised_return_pct``, ``volatility_annual_pct``, ``sharpe_ratio``, ``max_drawdown_pct``.

    Raises:
        ValueError: the index does not cover every portfolio return date.
    """
    bench = index_closes.pct_change().reindex(portfolio_returns.index)
    if bench.isna().any():
        raise ValueError("index closes do not cover every portfolio return date")
    r, b = portfolio_returns.to_numpy(), bench.to_numpy()
    port, idx = performance_summary(r, risk_free_rate), performance_summary(b, risk_free_rate)
    return {
        "portfolio": port,
        "benchmark": idx,
        "beta": round(beta(r, b), 4),
        "tracking_error_annual_pct": round(100.0 * tracking_error(r, b), 4),
        "excess_return_annual_pct": round(port["annualised_return_pct"] - idx["annualised_return_pct"], 4),
        "n_days": int(len(r)),
        "start_date": portfolio_returns.index[0].date().isoformat(),
        "end_date": portfolio_returns.index[-1].date().isoformat(),
    }
