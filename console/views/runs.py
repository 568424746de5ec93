"""Runs page: runs with filters (agent, version, status, tenant, start time; also from the URL, so
the Overview links to e.g. the failed runs of the last hour) and totals over every matching run; one
run's JSON, links to its workflow in the Temporal UI and its LangSmith trace (when configured), its
timeline (nodes and their durations, from the checkpoints), its LLM cost per node, checkpoint
history, and the form answering its pending interrupt request; after an answer, the run is followed
until it settles. Reading runs takes ``run.read``; the answer form is shown only to a role that may
resume any run of the tenant (``run.resume``)."""

from typing import Any

import altair as alt
import pandas as pd
import psycopg
import streamlit as st
from temporalio.service import RPCError

from console import actions, data
from console.answer_form import AnswerField, answer_errors, answer_fields, build_answer, read_request
from console.checkpoints import CheckpointRow, checkpoint_history
from console.identity import Identity, current_identity
from console.progress import follow_run
from console.timeline import DONE, INTERRUPTED, OPEN, RESUMED, node_timeline
from console.ui import role_notice, run_page
from reference_agents.common.hitl import InterruptRequest
from shipway.auth.roles import Action
from shipway.control import ActionRefused
from shipway.db.models import Run
from shipway.queries import RunFilter, RunStats
from shipway.settings import get_settings
from workflows.statuses import RunStatus

ALL = "(all)"
RESUME_FLASH_KEY = "resume_flash"
PICKED_KEY = "runs_picked"  # the run this page last wrote to the URL
OUTCOME_COLOURS = {DONE: "#2e7d32", RESUMED: "#1565c0", INTERRUPTED: "#ef6c00", OPEN: "#9e9e9e"}
# filter -> the widget's session key; the same names are the page's query parameters (``?status=failed&since=1h``)
FILTER_KEYS = {"agent": "runs_agent", "version": "runs_version", "status": "runs_status", "tenant": "runs_tenant",
               "since": "runs_since"}
APPLIED_KEY = "runs_filters_applied"  # the filter query parameters last applied to, or written from, the widgets


def _query_filters() -> dict[str, str]:
    return {name: str(st.query_params[name]) for name in FILTER_KEYS if name in st.query_params}


def _apply_link() -> None:
    """Set the filters from the URL when it changed from outside (a link, e.g. the Overview's
    failed runs), not when the widgets themselves last wrote it."""
    wanted = _query_filters()
    if st.session_state.get(APPLIED_KEY) == wanted:
        return
    for key in FILTER_KEYS.values():
        st.session_state.pop(key, None)
    for name, value in wanted.items():
        st.session_state[FILTER_KEYS[name]] = int(value) if name == "version" and value.isdigit() else value
    st.session_state[APPLIED_KEY] = wanted


def _write_link(values: dict[str, Any]) -> None:
    """Keep the URL in step with the filters, so it can be shared and reloaded."""
    for name, value in values.items():
        if value in (None, ALL, "all"):
            st.query_params.pop(name, None)
        else:
            st.query_params[name] = str(value)
    st.session_state[APPLIED_KEY] = _query_filters()


def _choice(column, label: str, options: list, key: str, **kwargs) -> Any:
    """A selectbox whose session value falls back to the first option when the options no longer hold it."""
    if st.session_state.get(key) not in options:
        st.session_state.pop(key, None)
    return column.selectbox(label, options, key=key, **kwargs)


def _filters(identity: Identity) -> RunFilter:
    """Agent, version, status, tenant (fixed to the console's tenant when it has one) and start time."""
    _apply_link()
    cols = st.columns(5)
    agent = _choice(cols[0], "Agent", [ALL, *data.agent_names()], FILTER_KEYS["agent"])
    agent = None if agent == ALL else agent
    version = _choice(cols[1], "Version", [ALL, *data.run_versions(agent)], FILTER_KEYS["version"],
                      format_func=lambda v: v if v == ALL else f"v{v}")
    status = _choice(cols[2], "Status", [ALL, *data.RUN_STATUSES], FILTER_KEYS["status"])
    if identity.tenant:
        cols[3].selectbox("Tenant", [identity.tenant], key=FILTER_KEYS["tenant"], disabled=True,
                          help="This console shows one tenant's runs (SHIPWAY_CONSOLE_TENANT).")
        tenant = identity.tenant
    else:
        tenant = _choice(cols[3], "Tenant", [ALL, *data.run_tenants()], FILTER_KEYS["tenant"])
    since = _choice(cols[4], "Started", list(data.TIME_RANGES), FILTER_KEYS["since"], format_func=lambda k: data.TIME_RANGES[k][0])
    _write_link({"agent": agent, "version": version, "status": status, "tenant": None if identity.tenant else tenant,
                 "since": since})
    return RunFilter(agent=agent, version=None if version == ALL else version, status=None if status == ALL else status,
                     tenant=None if tenant == ALL else tenant, since=data.range_start(since))


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _totals(stats: RunStats) -> None:
    c = st.columns(4)
    c[0].metric("Runs", f"{stats.runs:,}")
    c[1].metric("Cost (USD)", f"${stats.cost_usd:,.4f}")
    c[2].metric("Mean latency (ms)", _ms(stats.mean_latency_ms))
    c[3].metric("p95 latency (ms)", _ms(stats.p95_latency_ms))
    st.caption(" · ".join(f"{status}: {n:,}" for status, n in sorted(stats.by_status.items())))


def _guards(run_id: str) -> None:
    st.subheader("Guards")
    verdicts = data.guard_frame(run_id)
    if verdicts.empty:
        st.caption("No guard verdicts (the run started before the run guards existed).")
        return
    st.dataframe(verdicts, hide_index=True,
                 column_config={"latency_ms": st.column_config.NumberColumn("latency (ms)", format="%.1f")})


def _guard_totals(agent: str | None) -> None:
    stats = data.guard_stats_frame(agent)
    if stats.empty:
        return
    with st.expander("Guard verdicts (blocked inputs, redactions, withheld outputs) and guard latency"):
        st.dataframe(stats, hide_index=True,
                     column_config={"p50_ms": st.column_config.NumberColumn("p50 (ms)", format="%.1f"),
                                    "p95_ms": st.column_config.NumberColumn("p95 (ms)", format="%.1f")})


def _checkpoints(thread_id: str, history: list[CheckpointRow]) -> None:
    st.subheader("Checkpoint history")
    if not history:
        st.info(f"No LangGraph checkpoints for thread `{thread_id}` yet.")
        return
    st.caption(f"Thread `{thread_id}`, newest first.")
    st.dataframe(
        pd.DataFrame(
            [
                {"step": h.step, "source": h.source, "next": ", ".join(h.next), "writes": ", ".join(h.writes),
                 "checkpoint_id": h.checkpoint_id, "ts": h.ts}
                for h in history
            ]
        ),
        hide_index=True,
        key="checkpoints_table",
    )
    chosen = st.selectbox("State at checkpoint", [h.checkpoint_id for h in history],
                          format_func=lambda cid: next(f"step {h.step} · {cid}" for h in history if h.checkpoint_id == cid),
                          key="checkpoint_pick")
    st.json(next(h.values for h in history if h.checkpoint_id == chosen), expanded=False)


def _input(run_id: str, f: AnswerField) -> Any:
    key = f"answer:{run_id}:{f.name}"
    if f.choices:
        return st.selectbox(f.label, [None, *f.choices], format_func=lambda v: "" if v is None else str(v), key=key,
                            help=f.help or None)
    return st.text_input(f.label, key=key, help=f.help or None)


def _answer_form(run: Run, identity: Identity) -> None:
    """The pending request, and a form answering it with one button per allowed decision when the
    role may resume runs."""
    st.subheader("Answer")
    try:
        request = read_request(run.interrupt)
    except ValueError as exc:
        st.error(f"The pending interrupt is not an InterruptRequest, so no form can be built for it: {exc}")
        return
    st.markdown(f"**{request.question}**")
    if request.error:
        st.warning(f"The previous answer was refused: {request.error}")
    for reason in request.reasons:
        st.markdown(f"- `{reason.code}`: {reason.text}")
    st.caption("Context")
    st.json(request.context, expanded=True)
    if not identity.may(Action.RUN_RESUME):
        role_notice(identity, Action.RUN_RESUME, "answer interrupted runs")
        return

    fields = answer_fields(request.answer_schema)
    with st.form(f"answer:{run.id}"):
        entries = {f.name: _input(run.id, f) for f in fields}
        st.caption(f"Sent as **{identity.name or '(nobody: enter a name in the sidebar)'}**.")
        pressed = None
        for decision, column in zip(request.decisions, st.columns(len(request.decisions))):
            if column.form_submit_button(decision, key=f"decide:{run.id}:{decision}"):
                pressed = decision
    if pressed is not None:
        _send(run, request, fields, pressed, entries, identity)


def _send(run: Run, request: InterruptRequest, fields: list[AnswerField], decision: str, entries: dict[str, Any],
          identity: Identity) -> None:
    """Check the answer against the request's schema; send it only when valid, as ``identity``."""
    if not identity.name:
        st.error("Enter an operator name in the sidebar first.")
        return
    answer = build_answer(fields, decision, entries)
    errors = answer_errors(request.answer_schema, answer)
    if errors:
        titles = {f.name: f.title for f in fields}
        for name, message in errors.items():
            st.error(f"{titles.get(name, name) or 'Answer'} (`{name or 'answer'}`): {message}")
        return
    try:
        actions.resume(identity, run.id, answer)
    except ActionRefused as exc:
        st.error(f"Resume refused: {exc.reason}")
        return
    except (RPCError, RuntimeError) as exc:
        st.error(f"Could not reach {run.workflow_id}: {exc}")
        return
    st.session_state[RESUME_FLASH_KEY] = f"Run {run.id} resumed by {identity.name} with '{decision}'; the workflow continues."
    st.rerun()


def _timeline(run: Run, history: list[CheckpointRow]) -> None:
    """The run's nodes on a time axis with their durations (from its checkpoints), and its LLM cost per node."""
    st.subheader("Timeline")
    nodes = node_timeline(history, since=run.started_at, until=run.finished_at)
    if nodes.empty:
        st.caption("No node ran in this run's checkpoints.")
    else:
        drawn = nodes.assign(label=[f"{n} (step {s})" for n, s in zip(nodes["node"], nodes["step"])])
        y = alt.Y("label:N", sort=drawn["label"].tolist(), title=None, axis=alt.Axis(labelLimit=240))
        colour = alt.Color("outcome:N", title=None, scale=alt.Scale(domain=list(OUTCOME_COLOURS), range=list(OUTCOME_COLOURS.values())))
        tooltip = ["node:N", "step:Q", alt.Tooltip("duration_ms:Q", title="duration (ms)", format=",.1f"), "outcome:N",
                   alt.Tooltip("start:T", title="start (UTC)", format="%H:%M:%S.%L")]
        x = alt.X("start:T", title="time (UTC)", scale=alt.Scale(type="utc"), axis=alt.Axis(format="%H:%M:%S.%L"))
        ended = alt.Chart(drawn[drawn["end"].notna()]).mark_bar(cornerRadius=2).encode(x=x, x2="end:T", y=y, color=colour,
                                                                                       tooltip=tooltip)
        # a node with no checkpoint after it has no end: a mark where it started
        open_ = alt.Chart(drawn[drawn["end"].isna()]).mark_point(filled=True, size=120, shape="triangle-right").encode(
            x=x, y=y, color=colour, tooltip=tooltip)
        # the height includes the axis: below ~100 px the bands collapse
        st.altair_chart(alt.layer(ended, open_).properties(height=100 + 32 * len(drawn)), key=f"timeline:{run.id}")
        st.table(nodes[["step", "node", "duration_ms", "outcome"]].rename(columns={"duration_ms": "duration (ms)"})
                 .style.format({"duration (ms)": "{:,.1f}"}, na_rep="n/a").hide(axis="index"))
    st.markdown("**Cost per node**")
    costs = data.node_cost_frame(run.id)
    if costs.empty:
        st.caption("No LLM calls recorded for this run.")
    else:
        st.table(costs.style.format({"cost_usd": "${:,.6f}", "tokens_in": "{:,}", "tokens_out": "{:,}"}).hide(axis="index"))


def _history(thread_id: str) -> list[CheckpointRow]:
    try:
        return checkpoint_history(get_settings().resolved_database_url(), thread_id)
    except psycopg.OperationalError as exc:
        raise data.DatabaseUnavailable(str(exc)) from exc


def _links(run: Run) -> str:
    """The run's workflow in the Temporal UI, and its LangSmith trace when LangSmith is configured."""
    links = [f"[workflow {run.workflow_id}]({get_settings().workflow_url(run.workflow_id)})"]
    trace = _trace(run.id)
    if trace:
        links.append(f"[LangSmith trace]({trace})")
    return " · ".join(links)


@st.cache_data(ttl=60, show_spinner=False)  # a trace appears once LangSmith has ingested the run
def _trace(run_id: str) -> str | None:
    return data.trace_link(run_id)


def _detail(run_ids: list[str], identity: Identity) -> None:
    st.subheader("Run detail")
    wanted = st.query_params.get("run")
    linked = wanted != st.session_state.get(PICKED_KEY)  # not the pick this page wrote: a link (e.g. from Costs)
    if linked and wanted and wanted not in run_ids and data.get_run(wanted, identity.tenant) is not None:
        run_ids = [wanted, *run_ids]  # a link names a run beyond the table: open it all the same
    index = run_ids.index(wanted) if wanted in run_ids else 0
    run_id = st.selectbox("Run", run_ids, index=index, key="run_pick")
    st.query_params["run"] = st.session_state[PICKED_KEY] = run_id
    flash = st.session_state.pop(RESUME_FLASH_KEY, None)
    if flash:
        st.success(flash)
        follow_run(run_id, identity.tenant)
    run = data.get_run(run_id, identity.tenant)
    if run is None:
        st.warning(f"Run {run_id} no longer exists.")
        return
    st.markdown(
        f"**{run.agent_name} v{run.version}** · status **{run.status}** · tenant `{run.tenant}` · thread `{run.thread_id}` · "
        + _links(run)
    )
    if run.error:
        st.error(run.error)
    cols = st.columns(3)
    # the pending request is rendered as the answer form below; its raw JSON stays at hand, folded
    for col, (label, value, expanded) in zip(cols, (("Input", run.input, True), ("Output", run.output, True),
                                                    ("Interrupt", run.interrupt, False))):
        col.markdown(f"**{label}**")
        if value is None:
            col.caption("(none)")
        else:
            col.json(value, expanded=expanded)
    _guards(run.id)
    if run.status == RunStatus.INTERRUPTED:
        _answer_form(run, identity)
    history = _history(run.thread_id)
    _timeline(run, history)
    _checkpoints(run.thread_id, history)


def body() -> None:
    """The Runs page: filters (also set by the URL: ``?agent=&version=&status=&tenant=&since=1h|24h|7d|30d``),
    totals over every matching run, the newest runs and one run's detail."""
    st.title("Runs")
    identity = current_identity()
    if not identity.may(Action.RUN_READ):
        role_notice(identity, Action.RUN_READ, "read the tenant's runs")
        return
    f = _filters(identity)
    stats = data.run_stats(f)
    if not stats.runs:
        st.info("No runs match these filters." if f != RunFilter(tenant=identity.tenant) else
                "No runs yet. Runs appear here when a live agent is invoked through the gateway.")
        return
    _totals(stats)
    _guard_totals(f.agent)
    runs = data.runs_frame(f)
    st.caption(f"The table shows the newest {len(runs):,} of {stats.runs:,} matching runs; the totals above cover all of them.")
    st.dataframe(
        runs,
        hide_index=True,
        key="runs_table",
        column_config={
            "latency_ms": st.column_config.NumberColumn("latency (ms)", format="%.0f"),
            "cost_usd": st.column_config.NumberColumn("cost (USD)", format="$%.5f"),
            "started_at": st.column_config.DatetimeColumn("started (UTC)"),
            "workflow": st.column_config.LinkColumn("workflow", display_text="open in Temporal UI"),
        },
    )
    _detail(runs["run_id"].tolist(), identity)


run_page(body)
