"""Costs page: what the agents' LLM calls cost, by day, agent and model (charts of the daily cost
rollups), the costliest runs (each linked to its detail on the Runs page), each agent's daily budget
and its use today (a badge at 80% and at 100%), and the model prices in force. Reading it takes
``metrics.read``; a console bound to one tenant sees that tenant's costs (budgets are per agent,
across tenants)."""

from datetime import timedelta

import altair as alt
import pandas as pd
import streamlit as st

from console import data
from console.identity import current_identity
from console.ui import role_notice, run_page
from shipway.auth.roles import Action
from shipway.db.models import utcnow
from shipway.queries import RunFilter

ALL = "(all)"
RANGES = {7: "last 7 days", 30: "last 30 days", 90: "last 90 days"}
NO_MODEL = "-"  # the rollups' model of runs that made no LLM call
BADGES = {"100%": ("red", ":material/block:"), "80%": ("orange", ":material/warning:")}


def _bar(frame: pd.DataFrame, by: str, title: str, key: str) -> None:
    """Cost summed by ``by``, costliest first, as horizontal bars."""
    totals = frame.groupby(by, as_index=False)["cost_usd"].sum().sort_values("cost_usd", ascending=False)
    chart = alt.Chart(totals).mark_bar().encode(
        x=alt.X("cost_usd:Q", title="USD"), y=alt.Y(f"{by}:N", sort="-x", title=None),
        tooltip=[f"{by}:N", alt.Tooltip("cost_usd:Q", title="USD", format="$,.4f")],
    ).properties(title=title, height=110 + 28 * len(totals))  # the height includes the title and axes
    st.altair_chart(chart, key=key)


def _charts(costs: pd.DataFrame, days: int) -> None:
    st.subheader("Cost by day, agent and model")
    if costs.empty:
        st.info(f"No cost rollups in the {RANGES[days]} yet. The cost-rollup schedule writes them from the LLM calls of the runs.")
        return
    c = st.columns(3)
    c[0].metric("Cost", f"${costs['cost_usd'].sum():,.4f}", help="From the cost rollups of the range.", border=True)
    c[1].metric("LLM calls", f"{int(costs['calls'].sum()):,}", border=True)
    c[2].metric("Tokens", f"{int(costs['tokens_in'].sum() + costs['tokens_out'].sum()):,}", help="Input and output tokens.",
                border=True)
    daily = costs.groupby(["day", "agent"], as_index=False)["cost_usd"].sum()
    daily["day"] = [f"{d:%Y-%m-%d}" for d in daily["day"]]  # UTC days as labels: the browser would shift dates to its zone
    st.altair_chart(alt.Chart(daily).mark_bar().encode(
        x=alt.X("day:O", title="day (UTC)"), y=alt.Y("sum(cost_usd):Q", title="USD"), color=alt.Color("agent:N", title="agent"),
        tooltip=["day:O", "agent:N", alt.Tooltip("cost_usd:Q", title="USD", format="$,.4f")],
    ).properties(title="Cost per day", height=240), key="cost_by_day")
    left, right = st.columns(2)
    with left:
        _bar(costs, "agent", "Cost by agent", "cost_by_agent")
    with right:
        _bar(costs[costs["model"] != NO_MODEL], "model", "Cost by model", "cost_by_model")


def _costliest(f: RunFilter, days: int) -> None:
    st.subheader("Costliest runs")
    runs = data.costliest_runs_frame(f)
    if runs.empty:
        st.caption(f"No runs in the {RANGES[days]}.")
        return
    runs = runs.assign(detail=[f"runs?run={r}" for r in runs["run_id"]])  # the Runs page opens the run named in its URL
    st.dataframe(
        runs, hide_index=True, key="costliest_runs",
        column_order=["run_id", "detail", "agent", "version", "cost_usd", "tokens_in", "tokens_out", "status", "tenant",
                      "started_at", "workflow"],
        column_config={
            "cost_usd": st.column_config.NumberColumn("cost (USD)", format="$%.5f"),
            "started_at": st.column_config.DatetimeColumn("started (UTC)"),
            "detail": st.column_config.LinkColumn("detail", display_text="open on Runs"),
            "workflow": st.column_config.LinkColumn("workflow", display_text="open in Temporal UI"),
        },
    )


def _budgets() -> None:
    st.subheader("Daily budgets, today (UTC)")
    budgets = data.budget_frame()
    if budgets.empty:
        st.caption("No live version sets a daily budget (`daily_budget_usd` in its spec).")
        return
    alerting = budgets[budgets["badge"] != ""]
    if not alerting.empty:
        with st.container(horizontal=True):
            for b in alerting.itertuples():
                colour, icon = BADGES[b.badge]
                st.badge(f"{b.agent}: {b.badge} of its daily budget", color=colour, icon=icon)
    st.dataframe(
        budgets, hide_index=True, key="budgets",
        column_config={
            "budget_usd": st.column_config.NumberColumn("budget (USD)", format="$%.2f"),
            "spent_usd": st.column_config.NumberColumn("spent (USD)", format="$%.4f"),
            "used_pct": st.column_config.ProgressColumn("used", min_value=0, max_value=100, format="%.0f%%"),
            "badge": st.column_config.TextColumn("alert", help="80%: most of the budget is spent; 100%: all of it"),
            "hard_stop": st.column_config.CheckboxColumn("hard stop", help="New runs are refused once the budget is spent"),
        },
    )
    st.caption("Spent: the cost of the agent's runs started today, every tenant.")


def body() -> None:
    """The Costs page: range and agent, the charts, the costliest runs, the budgets and the prices."""
    st.title("Costs")
    identity = current_identity()
    if not identity.may(Action.METRICS_READ):
        role_notice(identity, Action.METRICS_READ, "read metrics")
        return
    range_col, agent_col = st.columns(2)
    days = range_col.selectbox("Range", list(RANGES), format_func=RANGES.get, key="costs_range")
    agent = agent_col.selectbox("Agent", [ALL, *data.agent_names()], key="costs_agent")
    agent = None if agent == ALL else agent
    now = utcnow()
    first_day = data.day_start(now) - timedelta(days=days - 1)
    today = data.run_stats(RunFilter(agent=agent, tenant=identity.tenant, since=data.day_start(now)))
    st.metric("Cost today", f"${today.cost_usd:,.4f}", help="Cost (USD) of the runs started since midnight UTC, from the runs.",
              border=True, width="content")
    _charts(data.cost_frame(first_day.date(), None, agent, identity.tenant), days)
    _costliest(RunFilter(agent=agent, tenant=identity.tenant, since=first_day), days)
    _budgets()
    with st.expander("Model prices in force today"):
        prices = data.prices_frame(now.date())
        if prices.empty:
            st.caption("No model prices: calls are recorded without a cost.")
        else:
            st.dataframe(prices, hide_index=True, key="prices",
                         column_config={"input_usd_per_mtok": st.column_config.NumberColumn("input (per M tokens)", format="%.3f"),
                                        "output_usd_per_mtok": st.column_config.NumberColumn("output (per M tokens)", format="%.3f")})
    scope = f"tenant `{identity.tenant}`" if identity.tenant else "every tenant"
    st.caption(f"Charts and costliest runs of {scope}; the charts read the daily cost rollups (UTC days), which the "
               "cost-rollup schedule refreshes, so today's bar may lag the cost today above.")


run_page(body)
