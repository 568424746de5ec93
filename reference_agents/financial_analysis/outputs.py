"""The run's JSON output and the one-line summary of many runs."""

from __future__ import annotations

from collections import Counter


def output(final_state: dict) -> dict:
    """The run's JSON output.

    Keys: ``decision`` (bullish|neutral|bearish for the equal-weighted basket), ``reasons``
    (codes), ``tickers``, ``start``, ``end``, ``signals`` (ticker -> signal, score, reasons),
    ``market`` (ticker -> window statistics: ``*_as_traded_*`` price levels and volume as traded
    on their day; ``*_adjusted_*`` return, volatility and drawdown from split- and
    dividend-adjusted closes; ``splits`` in the window), ``indicators`` (ticker -> values on the
    last trading day; ``price_basis``: USD as traded that day), ``sentiment`` (``per_ticker``:
    score -1..1, label, per-sentence scores of the ticker's headlines dated in the window;
    ``ignored``: the other headlines with their reason), ``track_record`` (hit rates of the
    technical rules over the next ``horizon_trading_days``, on the data whose outcome was known
    by ``end``), ``narrative``, ``narrative_source`` (``llm``/``tools``).
    """
    keys = ("decision", "reasons", "tickers", "start", "end", "signals", "market", "indicators",
            "sentiment", "track_record", "narrative", "narrative_source")
    out = {k: final_state.get(k) for k in keys}
    out["start"], out["end"] = str(out["start"]), str(out["end"])
    return out


def summarize(outputs: list[dict]) -> str:
    """``"<n> analyses: a bullish, b neutral, c bearish; top reasons: ...; rules' hit rate ..."``;
    the hit rates are those of the run with the latest end (the most history)."""
    decisions = Counter(o.get("decision") for o in outputs)
    reasons = Counter(r for o in outputs for r in o.get("reasons") or [])
    top = ", ".join(f"{r} x{c}" for r, c in reasons.most_common(3)) or "none"
    line = (
        f"{len(outputs)} analyses: {decisions['bullish']} bullish, {decisions['neutral']} neutral, "
        f"{decisions['bearish']} bearish; top reasons: {top}"
    )
    if not outputs:
        return line
    tr = max(outputs, key=lambda o: o["end"])["track_record"]
    rates = [f"{name} {100 * s['hit_rate']:.0f}% of {s['count']}" for name, s in tr["signals"].items()
             if name != "neutral" and s["hit_rate"] is not None]
    if rates and tr["base_rate_up"] is not None:
        line += (f"; rules' {tr['horizon_trading_days']}-day hit rate {', '.join(rates)} "
                 f"(base rate up {100 * tr['base_rate_up']:.0f}%)")
    return line
