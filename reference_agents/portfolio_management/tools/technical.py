"""Technical signals: 12-1 month momentum and the 50/200-day moving-average crossover.

Sources: momentum as in Jegadeesh & Titman (1993), "Returns to Buying Winners and Selling
Losers", J. Finance 48(1) — the return over the past 12 months skipping the most recent
month; moving-average crossover ("golden cross" / "death cross") as in Brock, Lakonishok &
LeBaron (1992), J. Finance 47(5), variable-length moving-average rule with 50/200 days.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def momentum_return(closes: pd.Series, lookback_days: int = 252, skip_days: int = 21) -> float:
    """12-1 momentum: ``close[t - skip] / close[t - lookback] - 1`` (fraction), ``t`` = last row.

    Raises:
        ValueError: fewer than ``lookback_days + 1`` closes.
    """
    if len(closes) < lookback_days + 1:
        raise ValueError(f"momentum needs {lookback_days + 1} closes, got {len(closes)}")
    return float(closes.iloc[-1 - skip_days] / closes.iloc[-1 - lookback_days] - 1.0)


def moving_average_state(closes: pd.Series, fast_days: int = 50, slow_days: int = 200, recent_days: int = 20) -> dict:
    """Simple moving averages and the last crossover of ``fast`` over ``slow``.

    Returns a dict: ``sma_fast_usd``, ``sma_slow_usd`` (at the last row), ``trend``
    (``"up"`` when SMA-fast > SMA-slow else ``"down"``), ``last_crossover``
    (``"golden_cross"`` | ``"death_cross"`` | None when none in the available history),
    ``days_since_crossover`` (trading days, or None) and ``recent_crossover`` (bool,
    within ``recent_days``).

    Raises:
        ValueError: fewer than ``slow_days`` closes.
    """
    if len(closes) < slow_days:
        raise ValueError(f"a {slow_days}-day moving average needs {slow_days} closes, got {len(closes)}")
    fast = closes.rolling(fast_days).mean()
    slow = closes.rolling(slow_days).mean()
    above = (fast > slow)[slow.notna()].to_numpy()
    changes = np.flatnonzero(above[1:] != above[:-1]) + 1
    last_cross, days_since = None, None
    if changes.size:
        k = int(changes[-1])
        last_cross = "golden_cross" if above[k] else "death_cross"
        days_since = len(above) - 1 - k
    return {
        "sma_fast_usd": float(fast.iloc[-1]),
        "sma_slow_usd": float(slow.iloc[-1]),
        "trend": "up" if above[-1] else "down",
        "last_crossover": last_cross,
        "days_since_crossover": days_since,
        "recent_crossover": days_since is not None and days_since <= recent_days,
    }


def technical_signals(closes: pd.DataFrame, params: dict) -> dict[str, dict]:
    """Per-ticker momentum and moving-average state, and a combined signal.

    Args:
        closes: daily closes (rows = trading days ending at the as-of date, columns = tickers),
            at least ``max(momentum_lookback_days + 1, sma_slow_days)`` rows.
        params: the policy's ``technical`` section.

    Returns:
        ``{ticker: {"momentum_12_1_pct", "sma_fast_adjusted_usd", "sma_slow_adjusted_usd", "trend",
        "last_crossover", "days_since_crossover", "recent_crossover", "signal"}}``. The moving
        averages are levels of the adjusted series (not comparable with traded prices; only their
        order matters). ``signal`` is ``"bearish"``
        (down-trend and negative momentum), ``"bullish"`` (up-trend and positive momentum) or
        ``"neutral"``. The SMA windows are ``sma_fast_days`` / ``sma_slow_days`` (50/200 by default).
    """
    out: dict[str, dict] = {}
    for ticker in closes.columns:
        series = closes[ticker]
        mom = momentum_return(series, params["momentum_lookback_days"], params["momentum_skip_days"])
        ma = moving_average_state(
            series, params["sma_fast_days"], params["sma_slow_days"], params["crossover_recent_days"]
        )
        if ma["trend"] == "down" and mom < 0:
            signal = "bearish"
        elif ma["trend"] == "up" and mom > 0:
            signal = "bullish"
        else:
            signal = "neutral"
        out[ticker] = {
            "momentum_12_1_pct": round(100.0 * mom, 4),
            "sma_fast_adjusted_usd": round(ma["sma_fast_usd"], 4),
            "sma_slow_adjusted_usd": round(ma["sma_slow_usd"], 4),
            "trend": ma["trend"],
            "last_crossover": ma["last_crossover"],
            "days_since_crossover": ma["days_since_crossover"],
            "recent_crossover": ma["recent_crossover"],
            "signal": signal,
        }
    return out
