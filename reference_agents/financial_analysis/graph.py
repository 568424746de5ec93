"""The financial analysis graph: a supervisor routing to market-data, indicator, sentiment
and report workers with ``Command``.

The supervisor lists the steps whose inputs are ready (market data before indicators;
sentiment any time; the report last). With one option, or without an LLM, it takes the
first; with an LLM and several options it lets :func:`~reference_agents.common.llm.choose_next`
order them (falling back to the first on any bad answer). The report computes the signal
from the tools' results, adds the rules' track record up to ``end`` and, with an LLM, has it
write the narrative.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command

from reference_agents.common.llm import choose_next, get_chat_model, model_from_config
from reference_agents.common.narrative import narrate
from reference_agents.financial_analysis.policy import load_policy
from reference_agents.financial_analysis.state import FinancialAnalysisState
from reference_agents.financial_analysis.tools.indicators import technical_indicators
from reference_agents.financial_analysis.tools.market_data import check_request, window_stats
from reference_agents.financial_analysis.tools.narrative import fallback_narrative, narrative_facts
from reference_agents.financial_analysis.tools.sentiment import score_sentiment
from reference_agents.financial_analysis.tools.signals import overall_signal, ticker_signal
from reference_agents.financial_analysis.tools.track_record import signal_samples, track_record

WORKERS = ("market_data", "indicators", "sentiment", "report")


def ready_steps(state: dict) -> list[str]:
    """Workers that may run next, in the deterministic order; ``[]`` when the run is done."""
    steps = []
    if "market" not in state:
        steps.append("market_data")
    elif "indicators" not in state:
        steps.append("indicators")
    if "sentiment" not in state:
        steps.append("sentiment")
    if not steps and "decision" not in state:
        steps.append("report")
    return steps


def _window(state: dict) -> tuple[date, date]:
    return date.fromisoformat(str(state["start"])), date.fromisoformat(str(state["end"]))


def build_graph(config: dict) -> StateGraph:
    """The uncompiled graph.

    Args:
        config: policy overrides (sections of ``policy.yaml``), ``{}`` for the defaults.

    Raises:
        ValueError: ``config`` names a key ``policy.yaml`` does not have.
    """
    policy = load_policy(config)
    signal_samples(policy)  # replay the rules over the data once per process now, not inside the first run

    def supervisor(state: FinancialAnalysisState, config: RunnableConfig) -> Command[Literal["market_data", "indicators", "sentiment", "report", "__end__"]]:
        """Route to a ready step (the LLM may order them, see the module doc), or end."""
        steps = ready_steps(state)
        if not steps:
            return Command(goto=END)
        llm = get_chat_model(model_from_config(config)) if len(steps) > 1 else None
        chosen = choose_next(
            llm,
            "Choose which analysis of a stock to run next; all allowed steps will run eventually.",
            steps,
            steps[0],
            {"tickers": state["tickers"], "start": str(state["start"]), "end": str(state["end"]),
             "texts_supplied": bool(state.get("headlines"))},
            config=config,
        )
        entry = {"options": steps, "next": chosen, "chooser": "llm" if llm else "rules"}
        return Command(goto=chosen, update={"route_log": [entry]})

    def market_data(state: FinancialAnalysisState) -> Command[Literal["supervisor"]]:
        """Window statistics per ticker (``ValueError`` names the data when the window is outside it)."""
        start, end = _window(state)
        data = policy["data"]
        market = {}
        for ticker in state["tickers"]:
            check_request(ticker, start, end, data["min_window_trading_days"])
            market[ticker] = window_stats(ticker, start, end, data["trading_days_per_year"])
        return Command(goto="supervisor", update={"market": market})

    def indicators(state: FinancialAnalysisState) -> Command[Literal["supervisor"]]:
        """Technical indicators per ticker on the window's last trading day."""
        _, end = _window(state)
        lookback = policy["signals"]["macd_cross_lookback_days"]
        values = {t: technical_indicators(t, end, policy["indicators"], lookback) for t in state["tickers"]}
        return Command(goto="supervisor", update={"indicators": values})

    def sentiment(state: FinancialAnalysisState) -> Command[Literal["supervisor"]]:
        """Per-ticker sentiment of the headlines about each ticker dated inside the window."""
        s = policy["sentiment"]
        start, end = _window(state)
        result = score_sentiment(state.get("headlines") or [], state["tickers"], start, end,
                                 s["positive_at_least"], s["negative_at_most"])
        return Command(goto="supervisor", update={"sentiment": result})

    def report(state: FinancialAnalysisState, config: RunnableConfig) -> Command[Literal["supervisor"]]:
        """Signals per ticker, the basket's decision, the rules' track record up to ``end``, and
        the narrative."""
        rules, smas = policy["signals"], policy["indicators"]["sma_windows"]
        per_ticker = state["sentiment"]["per_ticker"]
        signals = {
            t: ticker_signal(state["market"][t], state["indicators"][t], per_ticker[t], rules, smas)
            for t in state["tickers"]
        }
        decision, reasons = overall_signal(signals, rules)
        record = track_record(policy, _window(state)[1])
        facts = narrative_facts(state["market"], state["indicators"], state["sentiment"], signals, decision, record)
        title = f"Technical and sentiment analysis of {', '.join(state['tickers'])}, {state['start']}..{state['end']}"
        narrative, source = narrate(config, title, facts, fallback_narrative(facts))
        return Command(goto="supervisor", update={
            "signals": signals, "decision": decision, "reasons": reasons, "track_record": record,
            "narrative": narrative, "narrative_source": source,
        })

    graph = StateGraph(FinancialAnalysisState)
    graph.add_node("supervisor", supervisor)
    graph.add_node("market_data", market_data)
    graph.add_node("indicators", indicators)
    graph.add_node("sentiment", sentiment)
    graph.add_node("report", report)
    graph.add_edge(START, "supervisor")
    return graph
