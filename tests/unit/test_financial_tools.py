"""Financial analysis tools checked against independent computations on the real prices."""

from __future__ import annotations

import gzip
from datetime import date

import numpy as np
import pandas as pd
import pytest

from reference_agents.financial_analysis.policy import load_policy
from reference_agents.financial_analysis.tools.indicators import last_cross, technical_indicators
from reference_agents.financial_analysis.tools.market_data import (
    DATA_FILE,
    check_request,
    coverage,
    history,
    splits,
    window_stats,
)
from reference_agents.financial_analysis.tools.sentiment import score_sentiment
from reference_agents.financial_analysis.tools.signals import overall_signal, ticker_signal

POLICY = load_policy()
PARAMS = POLICY["indicators"]


def _raw(ticker: str) -> pd.DataFrame:
    """The data file read directly, not through the tools' loader."""
    with gzip.open(DATA_FILE, "rt") as fh:
        df = pd.read_csv(fh)
    return df[df["Ticker"] == ticker].sort_values("Date").reset_index(drop=True)


def _wilder_rsi(close: np.ndarray, n: int) -> float:
    """Wilder (1978): seed with simple means of the first n gains/losses, then
    avg = (avg * (n - 1) + x) / n; RSI = 100 - 100 / (1 + avg_gain / avg_loss)."""
    diff = np.diff(close)
    gain, loss = np.clip(diff, 0, None), np.clip(-diff, 0, None)
    avg_gain, avg_loss = gain[:n].mean(), loss[:n].mean()
    for g, l in zip(gain[n:], loss[n:]):
        avg_gain = (avg_gain * (n - 1) + g) / n
        avg_loss = (avg_loss * (n - 1) + l) / n
    return 100 - 100 / (1 + avg_gain / avg_loss)


def _ema(x: np.ndarray, span: int) -> np.ndarray:
    alpha, out = 2 / (span + 1), np.empty_like(x)
    out[0] = x[0]
    for k in range(1, len(x)):
        out[k] = alpha * x[k] + (1 - alpha) * out[k - 1]
    return out


def test_data_coverage_matches_provenance():
    cov = coverage()
    assert sorted(cov) == ["AAPL", "FB", "GOOG", "IBM", "MSFT"]
    assert cov["AAPL"] == (date(2000, 3, 1), date(2013, 3, 1))
    assert cov["GOOG"][0] == date(2004, 8, 19) and cov["FB"][0] == date(2012, 5, 18)
    assert sum(len(history(t, None, date(2013, 3, 1))) for t in cov) == 12_154


def test_prices_are_as_traded_and_the_adjusted_close_continuous_across_a_split():
    # AAPL split 2:1 on 2005-02-28: the traded close halves overnight, the adjusted one does not.
    rows = history("AAPL", date(2005, 2, 24), date(2005, 3, 2))
    raw_jump = rows["close"].pct_change().min()
    adj_jump = rows["adj_close"].pct_change().abs().max()
    assert raw_jump < -0.45 and adj_jump < 0.05
    assert (rows["high"] >= rows["close"] - 1e-9).all() and (rows["low"] <= rows["close"] + 1e-9).all()
    assert splits(rows) == [{"date": "2005-02-28", "ratio": 2.0}]


@pytest.mark.parametrize("ticker,end", [("AAPL", date(2012, 12, 31)), ("IBM", date(2008, 10, 31)), ("FB", date(2013, 3, 1))])
def test_indicators_match_independent_formulas(ticker, end):
    raw = _raw(ticker)
    upto = raw[raw["Date"] <= end.isoformat()]
    # the adjusted history rescaled to the end day's traded close: adjustments up to that day only
    close = (upto["Adj Close"] * upto["Close"].iloc[-1] / upto["Adj Close"].iloc[-1]).to_numpy()
    ind = technical_indicators(ticker, end, PARAMS, cross_lookback=5)

    assert ind["close_usd"] == pytest.approx(upto["Close"].iloc[-1], abs=1e-4)
    for n in PARAMS["sma_windows"]:
        sma = np.convolve(close, np.ones(n) / n, mode="valid")
        assert ind[f"sma_{n}_usd"] == pytest.approx(sma[-1], abs=1e-4)
    assert ind["ema_20_usd"] == pytest.approx(_ema(close, 20)[-1], abs=1e-3)
    # Wilder's seeding differs from ta's EWM start only by a factor (13/14)^k that has decayed
    # after 180+ bars (FB has 196 in the data set).
    assert ind["rsi"] == pytest.approx(_wilder_rsi(close, 14), abs=0.01)
    macd = _ema(close, 12) - _ema(close, 26)
    signal = _ema(macd, 9)
    assert ind["macd"] == pytest.approx(macd[-1], abs=1e-3)
    assert ind["macd_histogram"] == pytest.approx(macd[-1] - signal[-1], abs=1e-3)
    window = close[-20:]
    mid, sd = window.mean(), window.std()  # Bollinger uses the population standard deviation
    assert ind["bollinger_upper_usd"] == pytest.approx(mid + 2 * sd, abs=1e-4)
    assert ind["bollinger_lower_usd"] == pytest.approx(mid - 2 * sd, abs=1e-4)
    assert ind["bollinger_percent_b"] == pytest.approx((close[-1] - (mid - 2 * sd)) / (4 * sd), abs=1e-4)
    assert 0 <= ind["rsi"] <= 100


def test_window_statistics_match_independent_computation():
    raw = _raw("MSFT")
    sel = raw[(raw["Date"] >= "2008-01-01") & (raw["Date"] <= "2008-12-31")]
    close = sel["Adj Close"].to_numpy()
    stats = window_stats("MSFT", date(2008, 1, 1), date(2008, 12, 31), 252)
    returns = close[1:] / close[:-1] - 1
    assert stats["trading_days"] == len(close) == 253
    assert stats["total_return_adjusted_pct"] == pytest.approx(100 * (close[-1] / close[0] - 1), abs=1e-3)
    assert stats["annualised_volatility_adjusted_pct"] == pytest.approx(100 * returns.std(ddof=1) * np.sqrt(252), abs=1e-3)
    assert stats["max_drawdown_adjusted_pct"] == pytest.approx(100 * (close / np.maximum.accumulate(close) - 1).min(), abs=1e-3)
    # levels and volume as traded on their days
    assert stats["end_close_as_traded_usd"] == pytest.approx(sel["Close"].iloc[-1])
    assert stats["high_as_traded_usd"] == pytest.approx(sel["High"].max())
    assert stats["avg_daily_volume_as_traded_shares"] == pytest.approx(sel["Volume"].mean(), abs=0.1)
    # 2008: MSFT lost ~44% and swung hard; a domain expert would expect exactly this picture.
    assert stats["total_return_adjusted_pct"] < -35 and stats["annualised_volatility_adjusted_pct"] > 40
    assert stats["max_drawdown_adjusted_pct"] <= stats["total_return_adjusted_pct"]


def test_macd_cross_detection():
    idx = pd.date_range("2020-01-01", periods=6, freq="D")
    signal = pd.Series([0.0] * 6, index=idx)
    up = pd.Series([-3, -2, -1, 1, 2, 3], index=idx, dtype=float)
    assert last_cross(up, signal, lookback=5) == ("bullish", "2020-01-04")
    assert last_cross(up, signal, lookback=2) == (None, None)  # cross is 3 bars old
    assert last_cross(-up, signal, lookback=5) == ("bearish", "2020-01-04")


def _sentiment(texts: list[str], ticker: str = "IBM") -> dict:
    items = [{"text": t, "date": "2010-03-01", "ticker": ticker} for t in texts]
    return score_sentiment(items, [ticker], date(2010, 1, 4), date(2010, 6, 30), 0.05, -0.05)["per_ticker"][ticker]


def test_sentiment_separates_positive_and_negative_financial_text():
    pos = _sentiment(["Quarterly profit beat expectations and the company raised its dividend.",
                      "Strong revenue growth lifted margins to a record."])
    neg = _sentiment(["The bank disclosed heavy losses and an impairment on its loan book.",
                      "Regulators opened an investigation; the company faces a lawsuit and a downgrade."])
    assert pos["label"] == "positive" and neg["label"] == "negative"
    assert pos["score"] > 0.3 > -0.3 > neg["score"]
    assert neg["lm_polarity"] == -1.0  # LM finds only negative finance words here
    assert sum(i["lm_negative_words"] for i in neg["items"]) >= 4
    assert sum(i["lm_positive_words"] for i in pos["items"]) == 1  # "strong"; profit, growth, record are not LM words
    none = score_sentiment([], ["IBM"], date(2010, 1, 4), date(2010, 6, 30), 0.05, -0.05)["per_ticker"]["IBM"]
    assert none["label"] == "none" and none["n_texts"] == 0


def test_sentiment_splits_longer_text_into_sentences():
    result = _sentiment(["Sales collapsed. Management warned of further losses! Outlook: weak?"])
    assert result["n_texts"] == 3 and result["label"] == "negative"


@pytest.mark.parametrize(
    "ticker,start,end,message",
    [
        ("TSLA", date(2012, 1, 1), date(2012, 6, 1), "unknown ticker 'TSLA'; available: AAPL 2000-03-01..2013-03-01"),
        ("FB", date(2012, 1, 1), date(2012, 6, 30), "outside the data for FB (2012-05-18..2013-03-01)"),
        ("AAPL", date(2013, 1, 1), date(2014, 1, 1), "GOOG 2004-08-19..2013-03-01"),
        ("IBM", date(2012, 6, 1), date(2012, 1, 1), "start 2012-06-01 is after end 2012-01-01"),
        ("IBM", date(2012, 12, 24), date(2012, 12, 27), "has 3 trading day(s) for IBM"),
    ],
)
def test_bad_requests_name_the_available_data(ticker, start, end, message):
    with pytest.raises(ValueError) as err:
        check_request(ticker, start, end, POLICY["data"]["min_window_trading_days"])
    assert message in str(err.value)


def _indicators(**kw):
    base = {"close_usd": 100.0, "sma_20_usd": 100.0, "sma_50_usd": 100.0, "rsi": 50.0, "macd_cross": None,
            "bollinger_lower_usd": 90.0, "bollinger_upper_usd": 110.0}
    return base | kw


MARKET = {"annualised_volatility_adjusted_pct": 20.0, "max_drawdown_adjusted_pct": -5.0}


def test_signal_rules_and_thresholds():
    rules, smas = POLICY["signals"], PARAMS["sma_windows"]
    oversold = ticker_signal(MARKET, _indicators(rsi=22.0, macd_cross="bullish"), {"label": "none"}, rules, smas)
    assert oversold == {"signal": "bullish", "score": 2, "reasons": ["RSI_OVERSOLD", "MACD_BULLISH_CROSS"]}
    bear = ticker_signal(
        {"annualised_volatility_adjusted_pct": 55.0, "max_drawdown_adjusted_pct": -31.0},
        _indicators(close_usd=80.0, sma_20_usd=85.0, sma_50_usd=95.0, bollinger_lower_usd=82.0),
        {"label": "negative"}, rules, smas)
    # the lower-band touch (+1) offsets part of the downtrend and negative news (-2)
    assert bear["reasons"] == ["DOWNTREND_BELOW_SMA", "CLOSE_BELOW_LOWER_BAND", "SENTIMENT_NEGATIVE",
                               "HIGH_VOLATILITY", "DEEP_DRAWDOWN"]
    assert (bear["score"], bear["signal"]) == (-1, "neutral")
    quiet = ticker_signal(MARKET, _indicators(), {"label": "neutral"}, rules, smas)
    assert quiet == {"signal": "neutral", "score": 0, "reasons": []}
    decision, reasons = overall_signal({"A": oversold, "B": quiet}, rules)
    assert decision == "neutral" and reasons == ["RSI_OVERSOLD", "MACD_BULLISH_CROSS"]  # mean score 1


def test_policy_overrides_merge_and_unknown_keys_fail():
    policy = load_policy({"signals": {"rsi_oversold_below": 25}})
    assert policy["signals"]["rsi_oversold_below"] == 25
    assert policy["signals"]["rsi_overbought_above"] == 70
    assert load_policy()["signals"]["rsi_oversold_below"] == 30  # defaults untouched
    with pytest.raises(ValueError, match="unknown policy key.* signal "):
        load_policy({"signal": {}})
    with pytest.raises(ValueError, match="signals.rsi_oversold"):  # typos inside a section fail too
        load_policy({"signals": {"rsi_oversold": 25}})
