"""Daily closes of the 20 S&P 500 stocks and of the S&P 500 index, and windows on them.

Source: skfolio 1.12.2 datasets (``sp500_dataset.csv.gz``, ``sp500_index.csv.gz``), copied
unchanged into ``../data`` (see ``data/PROVENANCE.md``); 1990-01-02..2022-12-28, USD. The stock
closes are split- and dividend-adjusted as of 2022: right for returns, not the prices traded on
the day (never used to value shares or size orders; see ``inputs.py``).
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path

import pandas as pd

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
STOCKS_FILE = DATA_DIR / "sp500_20_stocks_daily_close.csv.gz"
INDEX_FILE = DATA_DIR / "sp500_index_daily_close.csv.gz"
INDEX_COLUMN = "SP500"


class MarketDataError(ValueError):
    """A ticker or date the price data cannot serve; the message names what is available."""


@lru_cache(maxsize=1)
def stock_prices() -> pd.DataFrame:
    """Adjusted daily closes (for returns only), USD: index ``DatetimeIndex`` (8,313 trading days),
    one column per ticker."""
    return pd.read_csv(STOCKS_FILE, parse_dates=["Date"], index_col="Date").sort_index()


@lru_cache(maxsize=1)
def index_prices() -> pd.Series:
    """S&P 500 index daily close (points), same trading days as :func:`stock_prices`."""
    return pd.read_csv(INDEX_FILE, parse_dates=["Date"], index_col="Date").sort_index()[INDEX_COLUMN]


def known_tickers() -> list[str]:
    """The tickers the price data covers, in file order."""
    return list(stock_prices().columns)


def data_range() -> tuple[date, date]:
    """First and last trading day in the price data."""
    idx = stock_prices().index
    return idx[0].date(), idx[-1].date()


def check_tickers(tickers: list[str]) -> None:
    """Raise :class:`MarketDataError` naming every ticker the data does not cover."""
    unknown = [t for t in tickers if t not in stock_prices().columns]
    if unknown:
        raise MarketDataError(f"unknown ticker(s) {unknown}; the price data covers {', '.join(known_tickers())}")


def as_of_position(as_of: date, history_days: int) -> int:
    """Row position of the last trading day on or before ``as_of``.

    ``history_days`` trading days of history before it must exist too (lookback window,
    200-day moving average, 12-month momentum).

    Raises:
        MarketDataError: ``as_of`` is after the last day, or too early for ``history_days``;
            the message names the usable range.
    """
    idx = stock_prices().index
    first, last = idx[0].date(), idx[-1].date()
    earliest = idx[min(history_days, len(idx) - 1)].date()
    pos = int(idx.searchsorted(pd.Timestamp(as_of), side="right")) - 1
    if as_of > last or pos < history_days:
        raise MarketDataError(
            f"as_of {as_of.isoformat()} is outside the usable range {earliest.isoformat()}..{last.isoformat()} "
            f"(price data covers {first.isoformat()}..{last.isoformat()}; {history_days} trading days of "
            f"history are needed before the as-of date)"
        )
    return pos


def price_window(tickers: list[str], end_pos: int, n_days: int) -> pd.DataFrame:
    """Closes of ``tickers`` for the ``n_days + 1`` trading days ending at row ``end_pos`` (inclusive).

    ``n_days + 1`` prices give ``n_days`` daily returns.
    """
    return stock_prices().iloc[end_pos - n_days : end_pos + 1][tickers]


def index_window(end_pos: int, n_days: int) -> pd.Series:
    """S&P 500 closes aligned with :func:`price_window`."""
    return index_prices().iloc[end_pos - n_days : end_pos + 1]
