"""The report narrative's facts and its deterministic text (used when no LLM is configured)."""

from __future__ import annotations


def _fmt(value: float | None, unit: str = "", digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}{unit}"


def narrative_facts(market: dict, indicators: dict, sentiment: dict, signals: dict, decision: str,
                    track_record: dict) -> dict:
    """The facts a narrative may use: per-ticker market, indicator, sentiment (without
    per-sentence items) and signal results, the number of headlines ignored, the overall decision,
    and the rules' track record (hit rates up to ``end``, technical rules only)."""
    return {
        "decision": decision,
        "tickers": {
            t: {"market": market[t], "indicators": indicators[t], "signal": signals[t],
                "sentiment": {k: v for k, v in sentiment["per_ticker"][t].items() if k != "items"}}
            for t in signals
        },
        "headlines_ignored": len(sentiment["ignored"]),
        "track_record": track_record,
    }


def _track_record_text(tr: dict) -> str:
    sig = tr["signals"]
    if tr["base_rate_up"] is None:
        return "No track record of the rules before the end date."
    parts = []
    for name, word in (("bullish", "a rise"), ("bearish", "a fall")):
        s = sig[name]
        rate = "too few to say" if s["hit_rate"] is None else f"{100 * s['hit_rate']:.0f}%"
        parts.append(f"{name} signals were followed by {word} over the next {tr['horizon_trading_days']} trading "
                     f"days {rate} of the time ({s['count']} cases)")
    return (f"Track record of the technical rules on the data up to the end date: {'; '.join(parts)}; "
            f"all samples rose {100 * tr['base_rate_up']:.0f}% of the time.")


def fallback_narrative(facts: dict) -> str:
    """Plain-text narrative built only from ``facts`` (see :func:`narrative_facts`)."""
    lines = []
    for ticker, f in facts["tickers"].items():
        m, i, s, sent = f["market"], f["indicators"], f["signal"], f["sentiment"]
        lines.append(
            f"{ticker} {m['first_trading_day']}..{m['last_trading_day']} ({m['trading_days']} trading days): "
            f"total return {_fmt(m['total_return_adjusted_pct'], '%')} (adjusted for splits and dividends), "
            f"annualised volatility {_fmt(m['annualised_volatility_adjusted_pct'], '%')}, max drawdown "
            f"{_fmt(m['max_drawdown_adjusted_pct'], '%')}. On {i['as_of']}: close {_fmt(i['close_usd'], ' USD')} "
            f"as traded, RSI {_fmt(i['rsi'], digits=1)}, MACD histogram {_fmt(i['macd_histogram'], digits=3)}, "
            f"Bollinger %B {_fmt(i['bollinger_percent_b'])}."
        )
        if sent["n_texts"]:
            lines.append(
                f"Sentiment of {sent['n_texts']} sentence(s) about {ticker} in the window: {sent['label']} "
                f"(VADER mean {_fmt(sent['vader_compound_mean'], digits=3)}, "
                f"Loughran-McDonald polarity {_fmt(sent['lm_polarity'], digits=3)})."
            )
        lines.append(f"Signal {s['signal']} (score {s['score']}; {', '.join(s['reasons']) or 'no rule fired'}).")
    if facts["headlines_ignored"]:
        lines.append(f"{facts['headlines_ignored']} headline(s) ignored (undated, outside the window, or about another company).")
    lines.append(f"Overall: {facts['decision']}.")
    lines.append(_track_record_text(facts["track_record"]))
    return " ".join(lines)
