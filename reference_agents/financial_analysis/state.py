"""Graph state of the financial analysis agent (plain JSON values only)."""

from __future__ import annotations

import operator
from typing import Annotated, TypedDict


class FinancialAnalysisState(TypedDict, total=False):
    """Graph state; every value is JSON-serialisable.

    Input (see :class:`~reference_agents.financial_analysis.inputs.FinancialAnalysisInput`):
    ``tickers``, ``start``, ``end`` (ISO dates), ``headlines`` (``{text, date, ticker}`` objects,
    or plain strings that are never scored).
    Worker results: ``market`` (ticker -> window statistics: levels and volume as traded,
    returns, volatility and drawdown on adjusted closes, in percent), ``indicators`` (ticker ->
    indicator values on the last trading day, USD on that day's traded basis), ``sentiment``
    (``per_ticker``: blended score -1..1, label, per-sentence items; ``ignored`` headlines with
    reasons). Report: ``signals`` (ticker -> signal, score, reasons), ``decision``
    (bullish|neutral|bearish), ``reasons`` (codes), ``track_record`` (the rules' hit rates on the
    data up to ``end``), ``narrative``, ``narrative_source`` (``llm`` or ``tools``).
    ``route_log`` appends one entry per supervisor decision.
    """

    tickers: list[str]
    start: str
    end: str
    headlines: list[dict | str]
    market: dict[str, dict]
    indicators: dict[str, dict]
    sentiment: dict
    signals: dict[str, dict]
    decision: str
    reasons: list[str]
    track_record: dict
    narrative: str
    narrative_source: str
    route_log: Annotated[list[dict], operator.add]
