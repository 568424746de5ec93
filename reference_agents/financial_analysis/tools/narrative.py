"""The report narrative's facts and its deterministic text (used when no LLM is configured)."""

from __future__ import annotations


def _fmt(value: float | None, unit: str = "", digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}{unit}"


def narrative_facts(market: dict, indicators: dict, sentiment: dict, signals: dict, decision: str) -> dict:
    """The facts a narrative may use: per-ticker market, indicator and signal results,
    the sentiment summary (without per-sentence items) and the overall decision."""
    return {
        "decision": decision,
        "tickers": {
            t: {"market": market[t], "indicators": indicators[t], "signal": signals[t]} for t in signals
        },
        "sentiment": {k: v for k, v in sentiment.items() if k != "items"},
    }


def fallback_narrative(facts: dict) -> str:
    """Plain-text narrative built only from ``facts`` (see :func:`narrative_facts`)."""
    lines = []
    for ticker, f in facts["tickers"].items():
        m, i, s = f["market"], f["indicators"], f["signal"]
        lines.append(
            f"{ticker} {m['first_trading_day']}..{m['last_trading_day']} ({m['trading_days']} trading days): "
            f"total return {_fmt(m['total_return_pct'], '%')}, annualised volatility "
            f"{_fmt(m['annualised_volatility_pct'], '%')}, max drawdown {_fmt(m['max_drawdown_pct'], '%')}. "
            f"On {i['as_of']}: adjusted close {_fmt(i['close_usd'], ' USD')}, RSI {_fmt(i['rsi'], digits=1)}, "
            f"MACD histogram {_fmt(i['macd_histogram'], digits=3)}, Bollinger %B {_fmt(i['bollinger_percent_b'])}. "
            f"Signal {s['signal']} (score {s['score']}; {', '.join(s['reasons']) or 'no rule fired'})."
        )
    sent = facts["sentiment"]
    if sent["n_texts"]:
        lines.append(
            f"Sentiment of {sent['n_texts']} supplied text(s): {sent['label']} "
            f"(VADER mean {_fmt(sent['vader_compound_mean'], digits=3)}, "
            f"Loughran-McDonald polarity {_fmt(sent['lm_polarity'], digits=3)})."
        )
    else:
        lines.append("No text was supplied for sentiment.")
    lines.append(f"Overall: {facts['decision']}.")
    return " ".join(lines)
