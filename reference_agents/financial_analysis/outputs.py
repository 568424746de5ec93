"""The run's JSON output and the one-line summary of many runs."""

from __future__ import annotations

from collections import Counter


def output(final_state: dict) -> dict:
    """The run's JSON output.

    Keys: ``decision`` (bullish|neutral|bearish for the equal-weighted basket), ``reasons``
    (codes), ``tickers``, ``start``, ``end``, ``signals`` (ticker -> signal, score, reasons),
    ``market`` (ticker -> ``total_return_pct``, ``annualised_volatility_pct``,
    ``max_drawdown_pct``, prices in adjusted USD ...), ``indicators`` (ticker -> values on the
    last trading day), ``sentiment`` (score -1..1, label, per-text scores), ``narrative``,
    ``narrative_source`` (``llm``/``tools``).
    """
    keys = ("decision", "reasons", "tickers", "start", "end", "signals", "market", "indicators",
            "sentiment", "narrative", "narrative_source")
    out = {k: final_state.get(k) for k in keys}
    out["start"], out["end"] = str(out["start"]), str(out["end"])
    return out


def summarize(outputs: list[dict]) -> str:
    """``"<n> analyses: a bullish, b neutral, c bearish; top reasons: ..."``."""
    decisions = Counter(o.get("decision") for o in outputs)
    reasons = Counter(r for o in outputs for r in o.get("reasons") or [])
    top = ", ".join(f"{r} x{c}" for r, c in reasons.most_common(3)) or "none"
    return (
        f"{len(outputs)} analyses: {decisions['bullish']} bullish, {decisions['neutral']} neutral, "
        f"{decisions['bearish']} bearish; top reasons: {top}"
    )
