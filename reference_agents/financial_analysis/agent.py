"""The platform-facing functions of the financial analysis agent (see ``AgentDefinition``)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from reference_agents.financial_analysis.tools.market_data import coverage, history
from reference_agents.financial_analysis.tools.policy import load_policy

# Illustrative sentences written for the demo; NOT real news about any company or date.
ILLUSTRATIVE_HEADLINES = (
    ["Quarterly revenue rose strongly and the company raised its full-year guidance.",
     "Analysts upgraded the stock after record profit and improved margins."],
    ["The company disclosed a regulatory investigation and a lawsuit over its accounting.",
     "Shares fell after management warned of weaker demand and an impairment charge."],
    [],
)
_BASKETS = (["AAPL"], ["MSFT"], ["IBM"], ["GOOG"], ["AAPL", "MSFT", "IBM"], ["FB"], ["GOOG", "MSFT"])
_WINDOW_DAYS = 91


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


def sample_inputs(n: int) -> list[dict]:
    """Up to ``n`` requests on the real price data: rolling ~quarter-long windows (91 days)
    stepping back a quarter at a time from each basket's last date, cycling through ticker
    baskets and three text sets (positive, negative and no illustrative headlines)."""
    cov = coverage()
    min_days = load_policy()["data"]["min_window_trading_days"]
    out: list[dict] = []
    i = 0
    while len(out) < n and i < 20 * max(n, 1):
        basket = _BASKETS[i % len(_BASKETS)]
        first = max(cov[t][0] for t in basket)
        end = min(cov[t][1] for t in basket) - timedelta(days=_WINDOW_DAYS * (i // len(_BASKETS)))
        start = end - timedelta(days=_WINDOW_DAYS)
        if start >= first and all(len(history(t, start, end)) >= min_days for t in basket):
            out.append(
                {"tickers": basket, "start": start.isoformat(), "end": end.isoformat(),
                 "headlines": ILLUSTRATIVE_HEADLINES[len(out) % len(ILLUSTRATIVE_HEADLINES)]}
            )
        i += 1
    return out


def resume_value(interrupt_payload: dict, run_input: dict) -> dict:
    """This agent never interrupts (an analysis makes no irreversible decision), so the demo
    never asks for a resume value; ``{}`` is returned for completeness."""
    return {}


def summarize(outputs: list[dict]) -> str:
    """``"<n> analyses: a bullish, b neutral, c bearish; top reasons: ..."``."""
    decisions = Counter(o.get("decision") for o in outputs)
    reasons = Counter(r for o in outputs for r in o.get("reasons") or [])
    top = ", ".join(f"{r} x{c}" for r, c in reasons.most_common(3)) or "none"
    return (
        f"{len(outputs)} analyses: {decisions['bullish']} bullish, {decisions['neutral']} neutral, "
        f"{decisions['bearish']} bearish; top reasons: {top}"
    )
