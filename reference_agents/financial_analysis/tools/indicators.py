"""Technical indicators with the ``ta`` library, evaluated at the window's last trading day.

Indicators use the whole history up to ``end`` (data available on that day, so no look-ahead),
which gives long-window indicators their warm-up even for a short analysis window. They are
computed on the adjusted close rescaled to the as-of day's traded close
(:func:`~.market_data.as_of_basis`): the history adjusted only for the splits and dividends up to
that day, so the levels (close, moving averages, bands, MACD) are USD comparable with the price
traded on the as-of day, and no adjustment published later enters. Every indicator is
scale-invariant in its signal (RSI, crosses, %B), so the rules do not depend on the basis.

Definitions (``ta`` 0.11): SMA = rolling mean; EMA = ``ewm(span=n, adjust=False)``; RSI =
Wilder's RSI with ``ewm(alpha=1/n)`` smoothing; MACD = EMA(fast) - EMA(slow), signal =
EMA(signal) of MACD; Bollinger bands = SMA(n) +/- k * population standard deviation (ddof=0);
%B = (close - lower) / (upper - lower). All are causal: the value on a day depends only on that
day and earlier ones, so one series over the whole history gives every day's value
(``tools/track_record.py`` relies on it).
"""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
from ta.momentum import RSIIndicator
from ta.trend import MACD, EMAIndicator, SMAIndicator
from ta.volatility import BollingerBands

from reference_agents.financial_analysis.tools.market_data import as_of_basis, history

PRICE_BASIS = "as traded on as_of (history adjusted for splits and dividends up to as_of only)"


def _round(value: float, digits: int = 4) -> float | None:
    return None if math.isnan(value) else round(float(value), digits)


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


def indicator_frame(close: pd.Series, params: dict) -> pd.DataFrame:
    """Every indicator as a daily series of ``close`` (indexed by date).

    Args:
        close: daily closes (any price basis; the levels come out in it).
        params: the policy's ``indicators`` section (windows in trading days).

    Returns:
        Columns ``close_usd``, ``sma_<n>_usd`` per window, ``ema_<n>_usd``, ``rsi``, ``macd``,
        ``macd_signal``, ``macd_histogram``, ``bollinger_upper_usd``, ``bollinger_middle_usd``,
        ``bollinger_lower_usd``, ``bollinger_percent_b``; NaN while a window lacks data.
    """
    out = {"close_usd": close}
    for window in params["sma_windows"]:
        out[f"sma_{window}_usd"] = SMAIndicator(close, window=window).sma_indicator()
    ema_window = params["ema_window"]
    out[f"ema_{ema_window}_usd"] = EMAIndicator(close, window=ema_window).ema_indicator()
    out["rsi"] = RSIIndicator(close, window=params["rsi_window"]).rsi()
    m = params["macd"]
    macd = MACD(close, window_fast=m["fast"], window_slow=m["slow"], window_sign=m["signal"])
    out["macd"], out["macd_signal"], out["macd_histogram"] = macd.macd(), macd.macd_signal(), macd.macd_diff()
    b = params["bollinger"]
    bands = BollingerBands(close, window=b["window"], window_dev=b["std_devs"])
    out["bollinger_upper_usd"] = bands.bollinger_hband()
    out["bollinger_middle_usd"] = bands.bollinger_mavg()
    out["bollinger_lower_usd"] = bands.bollinger_lband()
    out["bollinger_percent_b"] = bands.bollinger_pband()
    return pd.DataFrame(out)


def indicators_at(frame: pd.DataFrame, pos: int, cross_lookback: int) -> dict:
    """The indicator values of row ``pos`` of an :func:`indicator_frame`, as the rules read them.

    Returns ``as_of`` (ISO date), the frame's columns (rounded: 4 digits, RSI 2; ``None`` for
    NaN), ``macd_cross`` (``bullish``/``bearish``/``None`` within ``cross_lookback`` bars) and
    ``macd_cross_date``.
    """
    row = frame.iloc[pos]
    out: dict = {"as_of": frame.index[pos].date().isoformat()}
    for key, value in row.items():
        out[key] = _round(value, 2 if key == "rsi" else 4)
    head = frame.iloc[: pos + 1]
    out["macd_cross"], out["macd_cross_date"] = last_cross(head["macd"], head["macd_signal"], cross_lookback)
    return out


def technical_indicators(ticker: str, end: date, params: dict, cross_lookback: int) -> dict:
    """Indicator values of ``ticker`` on its last trading day on or before ``end``.

    Args:
        params: the policy's ``indicators`` section (windows in trading days).
        cross_lookback: bars in which a MACD signal-line cross still counts.

    Returns (JSON-serialisable; a value is ``None`` while its window lacks data):
        ``as_of`` (ISO date), ``price_basis`` (:data:`PRICE_BASIS`), ``close_usd`` (the close
        traded on ``as_of``), ``sma_<n>_usd`` per window, ``ema_<n>_usd``, ``rsi`` (0..100),
        ``macd``, ``macd_signal``, ``macd_histogram`` (USD), ``macd_cross``
        (``bullish``/``bearish``/``None``), ``macd_cross_date``, ``bollinger_upper_usd``,
        ``bollinger_middle_usd``, ``bollinger_lower_usd``, ``bollinger_percent_b`` (0 at the
        lower band, 1 at the upper). USD levels are on the as-of day's traded basis.
    """
    close = as_of_basis(history(ticker, None, end))
    frame = indicator_frame(close, params)
    return {"price_basis": PRICE_BASIS, **indicators_at(frame, len(frame) - 1, cross_lookback)}
