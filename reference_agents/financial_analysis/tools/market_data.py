"""Daily prices of the agent's data set, window checks and window statistics.

Data: ``data/stocks_daily_ohlcv.csv.gz`` (Quandl WIKI prices via bokeh-sampledata; see
``data/PROVENANCE.md``). Prices are USD, adjusted for splits and dividends: Open/High/Low
are scaled by ``Adj Close / Close`` (the usual back-adjustment), volume is in shares.
"""

from __future__ import annotations

import math
from datetime import date
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "stocks_daily_ohlcv.csv.gz"


@lru_cache(maxsize=1)
def load_prices() -> pd.DataFrame:
    """All rows, adjusted, sorted by ticker and date.

    Returns:
        DataFrame with columns ``ticker`` (str), ``date`` (datetime64), ``open``, ``high``,
        ``low``, ``close`` (adjusted USD), ``close_unadjusted`` (USD as traded), ``volume``
        (shares). Callers must not mutate it (it is cached).
    """
    raw = pd.read_csv(DATA_FILE, parse_dates=["Date"])
    factor = raw["Adj Close"] / raw["Close"]
    df = pd.DataFrame(
        {
            "ticker": raw["Ticker"].astype(str),
            "date": raw["Date"],
            "open": raw["Open"] * factor,
            "high": raw["High"] * factor,
            "low": raw["Low"] * factor,
            "close": raw["Adj Close"],
            "close_unadjusted": raw["Close"],
            "volume": raw["Volume"],
        }
    )
    return df.sort_values(["ticker", "date"], kind="stable").reset_index(drop=True)


@lru_cache(maxsize=1)
def coverage() -> dict[str, tuple[date, date]]:
    """``{ticker: (first_date, last_date)}`` of the data set."""
    grouped = load_prices().groupby("ticker")["date"].agg(["min", "max"])
    return {t: (row["min"].date(), row["max"].date()) for t, row in grouped.iterrows()}


def describe_coverage() -> str:
    """Human text of the available tickers and their date ranges, for error messages."""
    return ", ".join(f"{t} {a.isoformat()}..{b.isoformat()}" for t, (a, b) in sorted(coverage().items()))


def check_request(ticker: str, start: date, end: date, min_trading_days: int) -> None:
    """Refuse a ticker or window the data cannot answer.

    Raises:
        ValueError: unknown ticker, ``start`` after ``end``, a window not inside the ticker's
            data, or fewer than ``min_trading_days`` trading days in it; the message names the
            available tickers and their date ranges.
    """
    cov = coverage()
    if ticker not in cov:
        raise ValueError(f"unknown ticker {ticker!r}; available: {describe_coverage()}")
    if start > end:
        raise ValueError(f"start {start.isoformat()} is after end {end.isoformat()}")
    first, last = cov[ticker]
    if start < first or end > last:
        raise ValueError(
            f"window {start.isoformat()}..{end.isoformat()} is outside the data for {ticker} "
            f"({first.isoformat()}..{last.isoformat()}); available: {describe_coverage()}"
        )
    days = len(history(ticker, start, end))
    if days < min_trading_days:
        raise ValueError(
            f"window {start.isoformat()}..{end.isoformat()} has {days} trading day(s) for {ticker}; "
            f"at least {min_trading_days} are needed"
        )


def history(ticker: str, start: date | None, end: date) -> pd.DataFrame:
    """Rows of ``ticker`` with ``start <= date <= end`` (``start`` ``None``: from the first),
    indexed by date; a copy."""
    df = load_prices()
    rows = df[df["ticker"] == ticker]
    mask = rows["date"] <= pd.Timestamp(end)
    if start is not None:
        mask &= rows["date"] >= pd.Timestamp(start)
    return rows[mask].set_index("date").drop(columns="ticker").copy()


def max_drawdown(close: pd.Series) -> float:
    """Largest peak-to-trough fall of ``close`` as a fraction (``-0.25`` = 25 % below the running peak).

    ``min(close / cummax(close) - 1)``; 0.0 for a series that never falls.
    """
    return float((close / close.cummax() - 1.0).min())


def window_stats(ticker: str, start: date, end: date, trading_days_per_year: int) -> dict:
    """Market statistics of ``ticker`` over the trading days in ``[start, end]``.

    Returns (JSON-serialisable):
        ``first_trading_day``, ``last_trading_day`` (ISO), ``trading_days`` (int),
        ``start_close_usd``, ``end_close_usd`` (adjusted), ``end_close_unadjusted_usd``,
        ``total_return_pct`` (``end/start - 1``), ``annualised_volatility_pct`` (sample
        standard deviation of simple daily returns times ``sqrt(trading_days_per_year)``),
        ``max_drawdown_pct`` (negative or 0), ``high_usd``, ``low_usd`` (adjusted intraday
        extremes), ``avg_daily_volume_shares``.
    """
    rows = history(ticker, start, end)
    close = rows["close"]
    returns = close.pct_change().dropna()
    vol = float(returns.std(ddof=1) * math.sqrt(trading_days_per_year)) if len(returns) > 1 else float("nan")
    return {
        "first_trading_day": rows.index[0].date().isoformat(),
        "last_trading_day": rows.index[-1].date().isoformat(),
        "trading_days": int(len(rows)),
        "start_close_usd": round(float(close.iloc[0]), 4),
        "end_close_usd": round(float(close.iloc[-1]), 4),
        "end_close_unadjusted_usd": round(float(rows["close_unadjusted"].iloc[-1]), 4),
        "total_return_pct": round(100 * float(close.iloc[-1] / close.iloc[0] - 1.0), 4),
        "annualised_volatility_pct": None if np.isnan(vol) else round(100 * vol, 4),
        "max_drawdown_pct": round(100 * max_drawdown(close), 4),
        "high_usd": round(float(rows["high"].max()), 4),
        "low_usd": round(float(rows["low"].min()), 4),
        "avg_daily_volume_shares": round(float(rows["volume"].mean()), 1),
    }
