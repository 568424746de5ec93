"""Demo traffic: rolling windows of the real price data with illustrative, dated headlines.

The agent never interrupts (an analysis makes no irreversible decision), so the demo has no
reviewer rule.
"""

from __future__ import annotations

from datetime import date, timedelta

from reference_agents.financial_analysis.policy import load_policy
from reference_agents.financial_analysis.tools.market_data import coverage, history

# Illustrative sentences written for the demo; NOT real news about any company or date. Each is
# attached to every ticker of a basket, dated inside its window (half-way), so it is scored.
ILLUSTRATIVE_HEADLINES = (
    ["Quarterly revenue rose strongly and the company raised its full-year guidance.",
     "Analysts upgraded the stock after record profit and improved margins."],
    ["The company disclosed a regulatory investigation and a lawsuit over its accounting.",
     "Shares fell after management warned of weaker demand and an impairment charge."],
    [],
)
_BASKETS = (["AAPL"], ["MSFT"], ["IBM"], ["GOOG"], ["AAPL", "MSFT", "IBM"], ["FB"], ["GOOG", "MSFT"])
_WINDOW_DAYS = 91


def _headlines(texts: list[str], basket: list[str], start: date, end: date) -> list[dict]:
    when = (start + (end - start) / 2).isoformat()
    return [{"text": text, "date": when, "ticker": ticker} for ticker in basket for text in texts]


def sample_inputs(n: int) -> list[dict]:
    """Up to ``n`` requests on the real price data: rolling ~quarter-long windows (91 days)
    stepping back a quarter at a time from each basket's last date, cycling through ticker
    baskets and three text sets (positive, negative and no illustrative headlines), each
    headline dated half-way through the window and attributed to each ticker of the basket."""
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
                 "headlines": _headlines(ILLUSTRATIVE_HEADLINES[len(out) % len(ILLUSTRATIVE_HEADLINES)], basket, start, end)}
            )
        i += 1
    return out


def resume_value(request: dict, run_input: dict) -> dict:
    """The agent never interrupts (an analysis makes no irreversible decision), so no reviewer is
    ever asked; ``{}`` only completes the :class:`~reference_agents.base.AgentDefinition`."""
    return {}
