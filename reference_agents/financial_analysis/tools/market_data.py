"""Daily prices of the agent's data set, window checks and window statistics.

Data: ``data/stocks_daily_ohlcv.csv.gz`` (Quandl WIKI prices via bokeh-sampledata; see
``data/PROVENANCE.md``): Open/High/Low/Close and Volume **as traded** on each day, and an
``Adj Close`` adjusted for splits and dividends **as of the file's compilation, years after its
last date** (AAPL's 2012-12-31 close is 532.17 as traded and 69.01 adjusted, for a 7:1 split of
2014). So, to look nothing up from after a window's end:

- price levels and volumes are reported as traded on their day (``*_as_traded_*`` fields);
- returns, volatility and drawdowns use the adjusted close (``*_adjusted_*`` fields): a ratio of
  two adjusted closes only depends on the splits and dividends between the two days, all known
  by the later one;
- indicators are computed on the adjusted close rescaled to the as-of day's traded close
  (:func:`as_of_basis`), i.e. the history adjusted only for the events up to that day.
"""

from __future__ import annotations

import math
from datetime import date
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "stocks_daily_ohlcv.csv.gz"
# A day-on-day jump of Adj Close / Close by more than this factor is a split (dividends move it by
# a few per cent at most).
SPLIT_FACTOR_JUMP = 1.2


@lru_cache(maxsize=1)
def load_prices() -> pd.DataFrame:
    """All rows, sorted by ticker and date.

    Returns:
        DataFrame with columns ``ticker`` (str), ``date`` (datetime64), ``open``, ``high``,
        ``low``, ``close`` (USD as traded), ``volume`` (shares as traded) and ``adj_close`` (USD,
        split- and dividend-adjusted as of the file's compilation: use only in ratios). Callers
        must not mutate it (it is cached).
    """
    raw = pd.read_csv(DATA_FILE, parse_dates=["Date"])
    df = pd.DataFrame(
        {
            "ticker": raw["Ticker"].astype(str),
            "date": raw["Date"],
            "open": raw["Open"],
            "high": raw["High"],
            "low": raw["Low"],
            "close": raw["Close"],
            "volume": raw["Volume"],
            "adj_close": raw["Adj Close"],
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


def history(ticker: str, start: date | None, end: date | None) -> pd.DataFrame:
    """Rows of ``ticker`` with ``start <= date <= end`` (``None``: unbounded on that side),
    indexed by date; a copy."""
    df = load_prices()
    rows = df[df["ticker"] == ticker]
    mask = pd.Series(True, index=rows.index)
    if end is not None:
        mask &= rows["date"] <= pd.Timestamp(end)
    if start is not None:
        mask &= rows["date"] >= pd.Timestamp(start)
    return rows[mask].set_index("date").drop(columns="ticker").copy()


def as_of_basis(rows: pd.DataFrame) -> pd.Series:
    """The adjusted close of ``rows`` rescaled so that its last value is that day's traded close:
    ``adj_close * close[-1] / adj_close[-1]``. This is the series adjusted for the splits and
    dividends up to the last day only (the later adjustments are one common factor, divided out),
    in USD comparable with the last day's traded price."""
    return rows["adj_close"] * (rows["close"].iloc[-1] / rows["adj_close"].iloc[-1])


def splits(rows: pd.DataFrame) -> list[dict]:
    """Splits inside ``rows``: days on which ``adj_close / close`` jumped by more than
    :data:`SPLIT_FACTOR_JUMP`; ``[{"date", "ratio"}]`` (ratio 2.0 = a 2:1 split). Traded price
    levels before and after such a day are not comparable."""
    factor = rows["adj_close"] / rows["close"]
    jump = (factor / factor.shift()).iloc[1:]
    hits = jump[(jump > SPLIT_FACTOR_JUMP) | (jump < 1 / SPLIT_FACTOR_JUMP)]
    return [{"date": d.date().isoformat(), "ratio": round(float(r), 4)} for d, r in hits.items()]


def max_drawdown(close: pd.Series) -> float:
    """Largest peak-to-trough fall of ``close`` as a fraction (``-0.25`` = 25 % below the running peak).

    ``min(close / cummax(close) - 1)``; 0.0 for a series that never falls.
    """
    return float((close / close.cummax() - 1.0).min())


def adjusted_stats(adj_close: pd.Series, trading_days_per_year: int) -> dict:
    """Return, volatility and drawdown of adjusted closes: ``total_return_adjusted_pct``
    (``last / first - 1``, dividends included), ``annualised_volatility_adjusted_pct`` (sample
    standard deviation of simple daily returns times ``sqrt(trading_days_per_year)``; ``None``
    with fewer than 3 closes) and ``max_drawdown_adjusted_pct`` (negative or 0), in percent."""
    returns = adj_close.pct_change().dropna()
    vol = float(returns.std(ddof=1) * math.sqrt(trading_days_per_year)) if len(returns) > 1 else float("nan")
    return {
        "total_return_adjusted_pct": round(100 * float(adj_close.iloc[-1] / adj_close.iloc[0] - 1.0), 4),
        "annualised_volatility_adjusted_pct": None if np.isnan(vol) else round(100 * vol, 4),
        "max_drawdown_adjusted_pct": round(100 * max_drawdown(adj_close), 4),
    }


def window_stats(ticker: str, start: date, end: date, trading_days_per_year: int) -> dict:
    """Market statistics of ``ticker`` over the trading days in ``[start, end]``.

    Returns (JSON-serialisable; ``as_traded``: USD or shares as traded on the day, ``adjusted``:
    computed on the split- and dividend-adjusted close):
        ``first_trading_day``, ``last_trading_day`` (ISO), ``trading_days`` (int),
        ``start_close_as_traded_usd``, ``end_close_as_traded_usd``, ``high_as_traded_usd``,
        ``low_as_traded_usd`` (intraday extremes), ``avg_daily_volume_as_traded_shares``,
        ``splits`` (see :func:`splits`; across one the traded levels are not comparable), and
        :func:`adjusted_stats` (``total_return_adjusted_pct``,
        ``annualised_volatility_adjusted_pct``, ``max_drawdown_adjusted_pct``).
    """
    rows = history(ticker, start, end)
    return {
        "first_trading_day": rows.index[0].date().isoformat(),
        "last_trading_day": rows.index[-1].date().isoformat(),
        "trading_days": int(len(rows)),
        "start_close_as_traded_usd": round(float(rows["close"].iloc[0]), 4),
        "end_close_as_traded_usd": round(float(rows["close"].iloc[-1]), 4),
        "high_as_traded_usd": round(float(rows["high"].max()), 4),
        "low_as_traded_usd": round(float(rows["low"].min()), 4),
        "avg_daily_volume_as_traded_shares": round(float(rows["volume"].mean()), 1),
        "splits": splits(rows),
        **adjusted_stats(rows["adj_close"], trading_days_per_year),
    }
