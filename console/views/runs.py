"""Runs page: runs with filters and totals over every matching run; one run's JSON, checkpoint
history, and the form answering its pending interrupt request. Reading runs takes ``run.read``;
the answer form is shown only to a role that may resume any run of the tenant (``run.resume``)."""

from typing import Any

import pandas as pd
import psycopg
import streamlit as st
from temporalio.service import RPCError

from console import actions, data
from console.answer_form import AnswerField, answer_errors, answer_fields, build_answer, read_request
from console.checkpoints import checkpoint_history
from console.identity import Identity, current_identity
from console.ui import role_notice, run_page
from reference_agents.common.hitl import InterruptRequest
from shipway.auth.roles import Action
from shipway.control import ActionRefused
from shipway.db.models import Run
from shipway.queries import RunStats
from shipway.settings import get_settings
from workflows.statuses import RunStatus

ALL = "(all)"
RESUME_FLASH_KEY = "resume_flash"


def _filters() -> tuple[str | None, str | None]:
    agent_col, status_col = st.columns(2)
    agent = agent_col.selectbox("Agent", [ALL, *data.agent_names()], key="runs_agent")
    status = status_col.selectbox("Status", [ALL, *data.RUN_STATUSES], key="runs_status")
    return (None if agent == ALL else agent), (None if status == ALL else status)


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


def _detail(run_ids: list[str], identity: Identity) -> None:
    st.subheader("Run detail")
    wanted = st.query_params.get("run")
    index = run_ids.index(wanted) if wanted in run_ids else 0
    run_id = st.selectbox("Run", run_ids, index=index, key="run_pick")
    st.query_params["run"] = run_id
    run = data.get_run(run_id, identity.tenant)
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
    _checkpoints(run.thread_id)


def body() -> None:
    """The Runs page: filters, totals over every matching run, the newest runs and one run's detail."""
    st.title("Runs")
    identity = current_identity()
    if not identity.may(Action.RUN_READ):
        role_notice(identity, Action.RUN_READ, "read the tenant's runs")
        return
    agent, status = _filters()
    stats = data.run_stats(agent, status, identity.tenant)
    if not stats.runs:
        st.info("No runs match these filters." if agent or status else
                "No runs yet. Runs appear here when a live agent is invoked through the gateway.")
        return
    _totals(stats)
    _guard_totals(agent)
    runs = data.runs_frame(agent, status, tenant=identity.tenant)
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
