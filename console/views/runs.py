"""Runs page: runs with filters and totals; one run's JSON, checkpoint history and resume form."""

import json
import math

import pandas as pd
import psycopg
import streamlit as st
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from console import actions, data
from console.checkpoints import checkpoint_history
from console.interrupts import allowed_decisions, resume_template
from console.ui import acting_as, run_page
from shipway.db.models import Run
from shipway.settings import get_settings

ALL = "(all)"
RESUME_FLASH_KEY = "resume_flash"


def _filters() -> tuple[str | None, str | None]:
    agent_col, status_col = st.columns(2)
    agent = agent_col.selectbox("Agent", [ALL, *data.agent_names()], key="runs_agent")
    status = status_col.selectbox("Status", [ALL, *data.RUN_STATUSES], key="runs_status")
    return (None if agent == ALL else agent), (None if status == ALL else status)


def _totals(runs: pd.DataFrame) -> None:
    t = data.run_totals(runs)
    c = st.columns(4)
    c[0].metric("Runs", t.runs)
    c[1].metric("Cost (USD)", f"${t.cost_usd:,.4f}")
    c[2].metric("Mean latency (ms)", "n/a" if math.isnan(t.mean_latency_ms) else f"{t.mean_latency_ms:,.0f}")
    c[3].metric("p95 latency (ms)", "n/a" if math.isnan(t.p95_latency_ms) else f"{t.p95_latency_ms:,.0f}")
    st.caption(" · ".join(f"{status}: {n}" for status, n in sorted(t.by_status.items())))


def _checkpoints(thread_id: str) -> None:
    st.subheader("Checkpoint history")
    try:
        history = checkpoint_history(get_settings().resolved_database_url(), thread_id)
    except psycopg.OperationalError as exc:
        raise data.DatabaseUnavailable(str(exc)) from exc
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


def _resume_form(run: Run) -> None:
    st.subheader("Resume")
    allowed = allowed_decisions(run.interrupt)
    if allowed:
        st.caption("Allowed decisions: " + ", ".join(f"`{d}`" for d in allowed))
    operator = acting_as()
    with st.form(f"resume:{run.id}"):
        raw = st.text_area("Resume value (JSON object)", value=json.dumps(resume_template(run.interrupt), indent=2),
                           height=160, key=f"resume_value:{run.id}")
        submitted = st.form_submit_button(f"Resume as {operator or '?'}", key=f"resume:{run.id}", type="primary")
    if not submitted:
        return
    if not operator:
        st.error("Enter an operator name in the sidebar first.")
        return
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        st.error(f"Not valid JSON: {exc}")
        return
    if not isinstance(value, dict):
        st.error("The resume value must be a JSON object.")
        return
    try:
        ack = actions.resume(run.id, value, operator)
    except (WorkflowUpdateFailedError, RPCError, RuntimeError) as exc:
        st.error(f"Resume refused: {getattr(exc, 'cause', None) or exc}")
        return
    st.session_state[RESUME_FLASH_KEY] = f"Run {run.id} resumed by {operator}: {ack}"
    st.rerun()


def _detail(run_ids: list[str]) -> None:
    st.subheader("Run detail")
    wanted = st.query_params.get("run")
    index = run_ids.index(wanted) if wanted in run_ids else 0
    run_id = st.selectbox("Run", run_ids, index=index, key="run_pick")
    st.query_params["run"] = run_id
    run = data.get_run(run_id)
    if run is None:
        st.warning(f"Run {run_id} no longer exists.")
        return
    flash = st.session_state.pop(RESUME_FLASH_KEY, None)
    if flash:
        st.success(flash)
    st.markdown(
        f"**{run.agent_name} v{run.version}** · status **{run.status}** · tenant `{run.tenant}` · thread `{run.thread_id}` · "
        f"[workflow {run.workflow_id}]({get_settings().workflow_url(run.workflow_id)})"
    )
    if run.error:
        st.error(run.error)
    cols = st.columns(3)
    for col, (label, value) in zip(cols, (("Input", run.input), ("Output", run.output), ("Interrupt", run.interrupt))):
        col.markdown(f"**{label}**")
        if value is None:
            col.caption("(none)")
        else:
            col.json(value, expanded=True)
    if run.status == "interrupted":
        _resume_form(run)
    _checkpoints(run.thread_id)


def body() -> None:
    st.title("Runs")
    agent, status = _filters()
    runs = data.runs_frame(agent, status)
    if runs.empty:
        st.info("No runs match these filters." if agent or status else
                "No runs yet. Runs appear here when a live agent is invoked through the gateway.")
        return
    _totals(runs)
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
    _detail(runs["run_id"].tolist())


run_page(body)
