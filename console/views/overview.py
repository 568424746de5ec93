"""Overview page, the console's home: run KPIs of the last hour and day, runs per minute, cost today,
budgets near or past their limit, agents by status, versions awaiting approval and rollouts in
progress or failing. Each number links to the page behind it (the Runs page filtered by the same
window and status, Costs, Agents, Approvals, Deployments). Everything is read from the database
(:func:`console.data.overview`); reading it takes ``metrics.read``."""

import streamlit as st

from console import data
from console.identity import current_identity
from console.ui import role_notice, run_page
from shipway.auth.roles import Action
from shipway.queries import RunStats
from workflows.statuses import RunStatus

RUNS, COSTS, AGENTS, APPROVALS, DEPLOYMENTS = ("views/runs.py", "views/costs.py", "views/agents.py", "views/approvals.py",
                                                "views/deployments.py")
BADGE_COLOURS = {"100%": "red", "80%": "orange"}


def _kpi(column, label: str, value: str, page: str, link: str, help: str, **query_params: str) -> None:
    """A number, and below it the link to the page (with ``query_params``) it comes from."""
    column.metric(label, value, help=help, border=True)
    column.page_link(page, label=link, icon=":material/arrow_forward:", query_params=query_params or None)


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f} ms"


def _window(title: str, since: str, stats: RunStats) -> None:
    failed = stats.by_status.get(RunStatus.FAILED, 0)
    st.markdown(f"**{title}**")
    c = st.columns(5)
    _kpi(c[0], "Runs", f"{stats.runs:,}", RUNS, "Runs", f"Runs started in the {data.TIME_RANGES[since][0]}.", since=since)
    _kpi(c[1], "Errors", f"{failed:,}", RUNS, "Failed runs", "Runs that failed.", since=since, status=RunStatus.FAILED)
    _kpi(c[2], "Error rate", f"{failed / stats.runs:.1%}" if stats.runs else "n/a", RUNS, "Failed runs",
         "Failed runs over all runs started.", since=since, status=RunStatus.FAILED)
    _kpi(c[3], "p95 latency", _ms(stats.p95_latency_ms), RUNS, "Runs", "95th percentile of the runs' latency "
         "(start to result, without time waiting for a human).", since=since)
    _kpi(c[4], "Cost", f"${stats.cost_usd:,.4f}", RUNS, "Runs", "Summed cost (USD) of the runs' LLM calls.", since=since)


def _runs(o: data.Overview) -> None:
    st.subheader("Runs")
    _window("Last hour", "1h", o.hour)
    _window("Last 24 hours", "24h", o.day)
    st.markdown(f"**Runs per minute**, last {data.PER_MINUTE_WINDOW} minutes (UTC)")
    st.bar_chart(o.per_minute, x="minute", y="runs", x_label="", y_label="runs", height=160)


def _money(o: data.Overview) -> None:
    st.subheader("Cost and budgets")
    c = st.columns(2)
    _kpi(c[0], "Cost today", f"${o.cost_today_usd:,.4f}", COSTS, "Costs",
         "Cost (USD) of the runs started since midnight UTC.")
    _kpi(c[1], "Budgets at 80% or more", f"{o.budgets_alerting} of {len(o.budgets)}", COSTS, "Budgets",
         "Agents that have spent 80% or more of today's daily budget, of the agents that have one.")
    alerting = o.budgets[o.budgets["badge"] != ""]
    if not alerting.empty:
        with st.container(horizontal=True):
            for b in alerting.itertuples():
                st.badge(f"{b.agent}: {b.used_pct:.0f}% of ${b.budget_usd:,.2f}" + (" · runs refused" if b.hard_stop and
                                                                                       b.badge == "100%" else ""),
                         color=BADGE_COLOURS[b.badge], icon=":material/warning:")


def _agents(o: data.Overview) -> None:
    st.subheader("Agents")
    c = st.columns(2)
    total = sum(o.agents_by_status.values())
    _kpi(c[0], "Agents", f"{total:,}", AGENTS, "Agents", "Agents by the status of their live version, else their newest.")
    _kpi(c[1], "Awaiting approval", f"{o.awaiting_approval:,}", APPROVALS, "Approvals", "Versions waiting for an approver.")
    if o.agents_by_status:
        st.caption(" · ".join(f"{status}: {n:,}" for status, n in o.agents_by_status.items()))


def _rollouts(o: data.Overview) -> None:
    st.subheader("Deployments")
    c = st.columns(2)
    _kpi(c[0], "In progress", f"{o.active_rollouts:,}", DEPLOYMENTS, "Deployments", "Rollouts in progress or paused.")
    _kpi(c[1], "Failing (24 h)", f"{o.failing_rollouts:,}", DEPLOYMENTS, "Deployments",
         "Rollouts rolled back or failed in the last 24 hours.")
    for r in o.rollouts.itertuples():
        st.page_link(DEPLOYMENTS, label=f"{r.agent} v{r.version} · {r.state} · {r.weight_pct:g}% · {r.strategy}",
                     icon=":material/sync:" if r.state in data.ACTIVE_STATES else ":material/error:",
                     query_params={"deployment": r.workflow_id})


def body() -> None:
    """The Overview page."""
    st.title("Overview")
    identity = current_identity()
    if not identity.may(Action.METRICS_READ):
        role_notice(identity, Action.METRICS_READ, "read metrics")
        return
    o = data.overview(identity.tenant)
    st.caption(("Runs and costs of tenant `" + identity.tenant + "`" if identity.tenant else "Runs and costs of every tenant")
               + "; times are UTC. Budgets, agents and deployments cover the whole platform.")
    _runs(o)
    left, right = st.columns(2, gap="large")
    with left:
        _money(o)
        _agents(o)
    with right:
        _rollouts(o)


run_page(body)
