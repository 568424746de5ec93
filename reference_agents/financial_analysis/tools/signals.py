"""Turn indicators and sentiment into a ``bullish | neutral | bearish`` signal with reason codes.

Rules (thresholds and weights from the policy's ``signals`` section), each adding its
code's weight to a score:

- ``RSI_OVERSOLD`` / ``RSI_OVERBOUGHT``: RSI below / above the policy bounds (Wilder's 30/70).
- ``MACD_BULLISH_CROSS`` / ``MACD_BEARISH_CROSS``: MACD crossed above / below its signal
  line within the last ``macd_cross_lookback_days`` bars.
- ``UPTREND_ABOVE_SMA`` / ``DOWNTREND_BELOW_SMA``: close and the short SMA both above /
  below the long SMA.
- ``CLOSE_BELOW_LOWER_BAND`` / ``CLOSE_ABOVE_UPPER_BAND``: close outside the Bollinger bands
  (read as mean reversion, like RSI).
- ``SENTIMENT_POSITIVE`` / ``SENTIMENT_NEGATIVE``: the sentiment label of the ticker's own
  headlines dated inside the window.
- ``HIGH_VOLATILITY``, ``DEEP_DRAWDOWN``: risk flags (weight 0 by default).

``bullish`` when the score reaches ``bullish_at_least``, ``bearish`` at or below
``bearish_at_most``, else ``neutral``.
"""

from __future__ import annotations

SIGNALS = ("bullish", "neutral", "bearish")


def reason_codes(market: dict, indicators: dict, sentiment: dict, rules: dict, sma_windows: list[int]) -> list[str]:
    """Reason codes that apply to one ticker (see module docstring), in rule order.

    Args:
        market: :func:`~.market_data.window_stats` output.
        indicators: :func:`~.indicators.indicators_at` output.
        sentiment: the ticker's :func:`~.sentiment.aggregate` (``{"label": "none"}`` without text).
        rules: the policy's ``signals`` section.
        sma_windows: the policy's SMA windows (trading days); shortest and longest are used.
    """
    codes = []
    rsi = indicators.get("rsi")
    if rsi is not None and rsi < rules["rsi_oversold_below"]:
        codes.append("RSI_OVERSOLD")
    if rsi is not None and rsi > rules["rsi_overbought_above"]:
        codes.append("RSI_OVERBOUGHT")
    if indicators.get("macd_cross") == "bullish":
        codes.append("MACD_BULLISH_CROSS")
    if indicators.get("macd_cross") == "bearish":
        codes.append("MACD_BEARISH_CROSS")
    close = indicators["close_usd"]
    short = indicators.get(f"sma_{min(sma_windows)}_usd")
    long = indicators.get(f"sma_{max(sma_windows)}_usd")
    if short is not None and long is not None:
        if close > long and short > long:
            codes.append("UPTREND_ABOVE_SMA")
        elif close < long and short < long:
            codes.append("DOWNTREND_BELOW_SMA")
    lower, upper = indicators.get("bollinger_lower_usd"), indicators.get("bollinger_upper_usd")
    if lower is not None and close < lower:
        codes.append("CLOSE_BELOW_LOWER_BAND")
    if upper is not None and close > upper:
        codes.append("CLOSE_ABOVE_UPPER_BAND")
    if sentiment.get("label") == "positive":
        codes.append("SENTIMENT_POSITIVE")
    if sentiment.get("label") == "negative":
        codes.append("SENTIMENT_NEGATIVE")
    vol = market.get("annualised_volatility_adjusted_pct")
    if vol is not None and vol > rules["high_volatility_above_pct"]:
        codes.append("HIGH_VOLATILITY")
    if market["max_drawdown_adjusted_pct"] < rules["deep_drawdown_below_pct"]:
        codes.append("DEEP_DRAWDOWN")
    return codes


def classify(score: float, rules: dict) -> str:
    """``bullish``/``neutral``/``bearish`` for a score, by the policy thresholds."""
    if score >= rules["bullish_at_least"]:
        return "bullish"
    if score <= rules["bearish_at_most"]:
        return "bearish"
    return "neutral"


def ticker_signal(market: dict, indicators: dict, sentiment: dict, rules: dict, sma_windows: list[int]) -> dict:
    """``{"signal", "score", "reasons"}`` of one ticker.

    Raises:
        KeyError: a reason code has no weight in ``rules["weights"]``.
    """
    codes = reason_codes(market, indicators, sentiment, rules, sma_windows)
    score = sum(rules["weights"][c] for c in codes)
    return {"signal": classify(score, rules), "score": score, "reasons": codes}


def overall_signal(signals: dict[str, dict], rules: dict) -> tuple[str, list[str]]:
    """Signal of the equal-weighted basket: :func:`classify` of the mean ticker score, and
    the union of the tickers' reason codes in first-seen order.

    Raises:
        ValueError: ``signals`` is empty.
    """
    if not signals:
        raise ValueError("no ticker signals to combine")
    mean_score = sum(s["score"] for s in signals.values()) / len(signals)
    reasons = list(dict.fromkeys(c for s in signals.values() for c in s["reasons"]))
    return classify(mean_score, rules), reasons
