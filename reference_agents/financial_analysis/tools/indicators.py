"""Technical indicators with the ``ta`` library, evaluated at the window's last trading day.

Indicators use the adjusted close of the whole history up to ``end`` (data available on
that day, so no look-ahead), which gives long-window indicators their warm-up even for a
short analysis window. Definitions (``ta`` 0.11): SMA = rolling mean; EMA = ``ewm(span=n,
adjust=False)``; RSI = Wilder's RSI with ``ewm(alpha=1/n)`` smoothing; MACD = EMA(fast) -
EMA(slow), signal = EMA(signal) of MACD; Bollinger bands = SMA(n) +/- k * population
standard deviation (ddof=0); %B = (close - lower) / (upper - lower).
"""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
from ta.momentum import RSIIndicator
from ta.trend import MACD, EMAIndicator, SMAIndicator
from ta.volatility import BollingerBands

from reference_agents.financial_analysis.tools.market_data import history


def _last(series: pd.Series, digits: int = 4) -> float | None:
    value = float(series.iloc[-1])
    return None if math.isnan(value) else round(value, digits)


def last_cross(macd: pd.Series, signal: pd.Series, lookback: int) -> tuple[str | None, str | None]:
    """Most recent MACD/signal-line cross within the last ``lookback`` bars.

    Returns:
        ``("bullish", iso_date)`` when MACD crossed above the signal line, ``("bearish",
        iso_date)`` when below, ``(None, None)`` without a cross in that span.
    """
    above = (macd - signal).dropna() > 0
    flips = above.ne(above.shift()).iloc[1:]
    flip_dates = flips[flips].index
    if len(flip_dates) == 0:
        return None, None
    when = flip_dates[-1]
    if above.index.get_loc(when) < len(above) - lookback:
        return None, None
    return ("bullish" if above.loc[when] else "bearish"), when.date().isoformat()


def technical_indicators(ticker: str, end: date, params: dict, cross_lookback: int) -> dict:
    """Indicator values of ``ticker`` on its last trading day on or before ``end``.

    Args:
        params: the policy's ``indicators`` section (windows in trading days).
        cross_lookback: bars in which a MACD signal-line cross still counts.

    Returns (JSON-serialisable; a value is ``None`` while its window lacks data):
        ``as_of`` (ISO date), ``close_usd``, ``sma_<n>_usd`` per window, ``ema_<n>_usd``,
        ``rsi`` (0..100), ``macd``, ``macd_signal``, ``macd_histogram`` (USD),
        ``macd_cross`` (``bullish``/``bearish``/``None``), ``macd_cross_date``,
        ``bollinger_upper_usd``, ``bollinger_middle_usd``, ``bollinger_lower_usd``,
        ``bollinger_percent_b`` (0 at the lower band, 1 at the upper).
    """
    close = history(ticker, None, end)["close"]
    out: dict = {"as_of": close.index[-1].date().isoformat(), "close_usd": _last(close)}
    for window in params["sma_windows"]:
        out[f"sma_{window}_usd"] = _last(SMAIndicator(close, window=window).sma_indicator())
    ema_window = params["ema_window"]
    out[f"ema_{ema_window}_usd"] = _last(EMAIndicator(close, window=ema_window).ema_indicator())
    out["rsi"] = _last(RSIIndicator(close, window=params["rsi_window"]).rsi(), 2)
    m = params["macd"]
    macd = MACD(close, window_fast=m["fast"], window_slow=m["slow"], window_sign=m["signal"])
    out["macd"] = _last(macd.macd())
    out["macd_signal"] = _last(macd.macd_signal())
    out["macd_histogram"] = _last(macd.macd_diff())
    out["macd_cross"], out["macd_cross_date"] = last_cross(macd.macd(), macd.macd_signal(), cross_lookback)
    b = params["bollinger"]
    bands = BollingerBands(close, window=b["window"], window_dev=b["std_devs"])
    out["bollinger_upper_usd"] = _last(bands.bollinger_hband())
    out["bollinger_middle_usd"] = _last(bands.bollinger_mavg())
    out["bollinger_lower_usd"] = _last(bands.bollinger_lband())
    out["bollinger_percent_b"] = _last(bands.bollinger_pband())
    return out
