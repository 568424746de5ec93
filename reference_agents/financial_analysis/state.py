"""Graph state of the financial analysis agent (plain JSON values only)."""

from __future__ import annotations

import operator
from typing import Annotated, TypedDict


class FinancialAnalysisState(TypedDict, total=False):
    """Graph state; every value is JSON-serialisable.

    Input (see :class:`~reference_agents.financial_analysis.inputs.FinancialAnalysisInput`):
    ``tickers``, ``start``, ``end`` (ISO dates), ``headlines``, ``text``.
    Worker results: ``market`` (ticker -> window statistics, prices in adjusted USD, returns
    and volatility in percent), ``indicators`` (ticker -> indicator values on the last
    trading day), ``sentiment`` (blended score -1..1, label, per-sentence items).
    Report: ``signals`` (ticker -> signal, score, reasons), ``decision``
    (bullish|neutral|bearish), ``reasons`` (codes), ``narrative``, ``narrative_source``
    (``llm`` or ``tools``). ``route_log`` appends one entry per supervisor decision.
    """

    tickers: list[str]
    start: str
    end: str
    headlines: list[str]
    text: str | None
    market: dict[str, dict]
    indicators: dict[str, dict]
    sentiment: dict
    signals: dict[str, dict]
    decision: str
    reasons: list[str]
    narrative: str
    narrative_source: str
    route_log: Annotated[list[dict], operator.add]
