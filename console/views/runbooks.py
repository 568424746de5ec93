"""Runbooks page: start a runbook, the runbook runs (newest first) and, for the one picked, its
steps with their status, findings, proposals and who decided them, the step waiting for a decision
with Confirm / Skip buttons, the report once the run ended, and a link to its workflow in the
Temporal UI.

Runs are read from ``runbook_runs`` / ``runbook_steps``, which each runbook workflow updates at
every change; a run the database has no row of yet is shown from the workflow's ``progress`` query.
While the picked run is running or waiting, its detail refreshes every :data:`REFRESH_S` seconds.
Starting a runbook and answering its steps take ``runbook.start`` (admin, operator); other roles see
the page read-only, with a notice saying why. A decision is taken under the console's identity and
needs a reason; the workflow records both with the step and in the audit log.
"""

from datetime import datetime

import pandas as pd
import streamlit as st
from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError

from console import actions, data
from console.identity import Identity, NotAllowed, current_identity
from console.ui import role_notice, run_page
from shipway import queries, runbook_control
from shipway.auth.roles import Action
from shipway.runbook_control import ENDED, WAITING_STEP, DecisionRefused
from shipway.settings import get_settings
from workflows.runbook_types import SIGNAL_CONFIRM, SIGNAL_SKIP
from workflows.statuses import Runbook, RunbookStatus, RunbookStepStatus

FLASH_KEY = "runbook_flash"
PICK_KEY = "runbook_pick"
STATUS_FILTER_KEY = "runbook_status_filter"
QUERY_PARAM = "runbook"
ALL = "(all)"
LIST_LIMIT = 100
REFRESH_S = 3.0
_ENDED_KEY = "runbook_ended_seen"
FLASH = {"success": st.success, "warning": st.warning, "error": st.error}
RUN_COLUMNS = ["id", "runbook", "status", "trigger", "started_by", "started", "finished", "summary"]
STEP_COLUMNS = ["seq", "step", "kind", "status", "decided_by", "reason", "started", "finished", "seconds", "error"]
ACTION_COLUMNS = ["step", "status", "decided_by", "reason", "proposal", "error"]
PARAMS_HELP = "One key=value per line; a value is JSON when it parses as JSON (numbers, booleans), else text."


def _show_flash() -> None:
    flash = st.session_state.pop(FLASH_KEY, None)
    if flash:
        kind, message = flash
        FLASH[kind](message)


def _ts(value: datetime | str | None) -> datetime | None:
    """A stored (datetime) or queried (ISO-8601 text) time as a datetime."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _when(value: datetime | str | None) -> str:
    ts = _ts(value)
    return f"{ts:%Y-%m-%d %H:%M:%S} UTC" if ts is not None else "-"


def _seconds(start: datetime | str | None, end: datetime | str | None) -> float | None:
    a, b = _ts(start), _ts(end)
    return round((b - a).total_seconds(), 3) if a is not None and b is not None else None


# -- starting ----------------------------------------------------------------------------------------
def _start(identity: Identity, runbook: Runbook, params_text: str, reason: str) -> tuple[str, str]:
    """Start ``runbook`` and return ``(kind, message)`` for the flash shown after the rerun; picks the new run."""
    if not identity.name:
        return "error", "Enter an operator name in the sidebar first."
    try:
        params = runbook_control.parse_params(params_text.splitlines())
    except ValueError as exc:
        return "error", f"Not started: {exc}."
    try:
        started = actions.start_runbook(identity, runbook, params, reason.strip())
    except NotAllowed as exc:
        return "error", f"Not started: {exc}"
    except (RPCError, RuntimeError) as exc:
        return "error", f"Could not start {runbook}: {exc}"
    st.session_state[PICK_KEY] = started.workflow_id  # the pick box is drawn below the form: not yet in this run
    if not started.started:
        return "warning", f"{runbook} not started: {started.detail} ({started.workflow_id})."
    return "success", f"{identity.name} started {runbook}: {started.workflow_id}."


def _start_form(identity: Identity, expanded: bool) -> None:
    with st.expander("Start a runbook", expanded=expanded, icon=":material/play_arrow:"):
        if not identity.may(Action.RUNBOOK_START):
            role_notice(identity, Action.RUNBOOK_START, "start runbooks or confirm their steps")
            return
        runbook = Runbook(st.selectbox("Runbook", list(Runbook), key="runbook_name", format_func=str))
        st.caption(runbook_control.describe_runbook(runbook))
        with st.form("runbook_start_form"):
            params = st.text_area("Params", key="runbook_params", help=PARAMS_HELP, placeholder="idle_in_transaction_min_s=120")
            reason = st.text_input("Reason", key="runbook_reason", placeholder="e.g. pool at 95% since 10:20, INC-2231")
            submitted = st.form_submit_button("Start", key="runbook_start", type="primary")
        st.caption(f"Started as **{identity.name or '(nobody: enter a name in the sidebar)'}**; a destructive step waits "
                   f"{get_settings().runbook_confirm_timeout_s:.0f} s for Confirm or Skip and is escalated after "
                   f"{get_settings().runbook_escalate_after_s:.0f} s.")
    if submitted:
        st.session_state[FLASH_KEY] = _start(identity, runbook, params, reason)
        st.rerun()


# -- one run -----------------------------------------------------------------------------------------
def _load(run_id: str) -> tuple[object, list, str] | None:
    """``(run, steps, note)``: the stored run, else what its workflow reports (``note`` says so); None
    (with the reason shown) when neither is there."""
    with data.session() as s:
        found = queries.runbook_run(s, run_id)
    if found is not None:
        return found.run, found.steps, ""
    try:
        state = actions.runbook_progress(run_id)
    except (RPCError, RuntimeError, WorkflowQueryFailedError) as exc:
        st.warning(f"Run {run_id} is not in the database and its workflow cannot be queried: {exc}")
        return None
    if state is None:
        st.info(f"Run {run_id} has started; its first step is not recorded yet.")
        return None
    return state, state.steps, "Not in the database yet: shown as the workflow reports it."


def _decide(identity: Identity, run_id: str, step: str, signal: str, reason: str) -> tuple[str, str]:
    """Send ``confirm`` or ``skip`` for ``step`` and return ``(kind, message)`` for the flash."""
    if not identity.name:
        return "error", "Enter an operator name in the sidebar first."
    if not reason.strip():
        return "error", f"Give a reason to {signal} step {step!r}; it is recorded with the step and in the audit log."
    what = f"{signal.capitalize()} of step {step!r} by {identity.name}"
    try:
        decided = actions.decide_runbook(identity, run_id, signal, reason.strip(), step)
    except NotAllowed as exc:
        return "error", f"{what} not sent: {exc}"
    except DecisionRefused as exc:
        return "error", f"{what} refused: {exc.reason}"
    except (LookupError, RPCError, RuntimeError) as exc:
        return "error", f"Could not reach {run_id}: {exc}"
    if decided.decided_by is None:
        return "warning", f"{what} sent; the workflow has not recorded it yet (the step is {decided.status})."
    return "success", f"{what} recorded: the step is {decided.status}."


def _decision(run, step, identity: Identity) -> None:
    """The step waiting for a decision: its proposal and, to a role that may, Confirm / Skip with a reason."""
    with st.container(border=True):
        escalated = " It was escalated: nobody answered within the escalation time." \
            if step.status == RunbookStepStatus.ESCALATED else ""
        st.warning(f"Step **{step.name}** waits for a decision.{escalated}")
        st.markdown(f"**Proposal:** {step.proposal}")
        if not identity.may(Action.RUNBOOK_START):
            role_notice(identity, Action.RUNBOOK_START, "confirm or skip runbook steps")
            return
        key = f"{run.id}:{step.seq}"
        reason = st.text_input("Reason", key=f"decision_reason:{key}", placeholder="e.g. checked with the app team: safe to kill")
        clicked = None
        with st.container(horizontal=True):
            if st.button("Confirm", key=f"confirm:{key}", type="primary", help="Run the change now."):
                clicked = SIGNAL_CONFIRM
            if st.button("Skip", key=f"skip:{key}", help="Leave it undone; the runbook goes on."):
                clicked = SIGNAL_SKIP
        st.caption(f"Decided as **{identity.name or '(nobody: enter a name in the sidebar)'}**.")
    if clicked:
        st.session_state[FLASH_KEY] = _decide(identity, run.id, step.name, clicked, reason)
        st.rerun(scope="app")


def _steps(run, steps: list) -> None:
    st.subheader("Steps")
    if not steps:
        st.caption("No step yet.")
        return
    st.dataframe(pd.DataFrame(
        [[s.seq, s.name, s.kind, str(s.status), s.decided_by, s.reason, _ts(s.started_at), _ts(s.finished_at),
          _seconds(s.started_at, s.finished_at), s.error] for s in steps], columns=STEP_COLUMNS),
        hide_index=True, key=f"runbook_steps:{run.id}",
        column_config={"started": st.column_config.DatetimeColumn("started (UTC)"),
                       "finished": st.column_config.DatetimeColumn("finished (UTC)")})
    for s in steps:
        with st.expander(f"{s.seq}. {s.name}: {s.status}"):
            if s.proposal:
                st.markdown(f"**Proposal:** {s.proposal}")
            if s.decided_by:
                st.markdown(f"**Decided by** {s.decided_by}" + (f": {s.reason}" if s.reason else ""))
            if s.error:
                st.error(s.error)
            st.markdown("**Findings**")
            st.json(s.findings or {}, expanded=2)
            if s.result:
                st.markdown("**What it changed**")
                st.json(s.result, expanded=2)


def _report(run) -> None:
    report = run.report
    st.subheader("Report")
    (st.error if run.status == RunbookStatus.FAILED else st.success)(report.get("summary") or run.summary or str(run.status))
    if report.get("actions"):
        st.dataframe(pd.DataFrame(report["actions"]).reindex(columns=ACTION_COLUMNS), hide_index=True,
                     key=f"runbook_actions:{run.id}")
    durations = {k: v for k, v in (report.get("durations_s") or {}).items() if v is not None}
    st.caption(f"Took {report.get('total_s')} s in all; " + ", ".join(f"{k} {v} s" for k, v in durations.items()))
    with st.expander("The whole report (JSON)"):
        st.json(report)


def _run_view(run_id: str, identity: Identity) -> RunbookStatus | None:
    """The picked run; returns its status (None when it could not be shown)."""
    loaded = _load(run_id)
    if loaded is None:
        return None
    run, steps, note = loaded
    st.subheader(f"{run.runbook}: {run.status}")
    if note:
        st.caption(note)
    st.markdown(" · ".join(part for part in (
        f"`{run.id}`", f"trigger **{run.trigger}**", f"started by **{run.started_by}** {_when(run.started_at)}",
        f"finished {_when(run.finished_at)}" if run.finished_at else "",
        f"[workflow in the Temporal UI]({get_settings().workflow_url(run.id)})") if part))
    if run.reason:
        st.markdown(f"**Reason:** {run.reason}")
    if run.params:
        st.markdown("**Params**")
        st.json(run.params)
    waiting = next((s for s in steps if s.status in WAITING_STEP), None)
    if waiting is not None and run.status not in ENDED:
        _decision(run, waiting, identity)
    _steps(run, steps)
    if run.report:
        _report(run)
    return RunbookStatus(run.status)


@st.fragment(run_every=REFRESH_S)
def _live_run_view(run_id: str, identity: Identity) -> None:
    """:func:`_run_view`, refreshed; once the run ended, redraws the page once, which stops the refresh."""
    status = _run_view(run_id, identity)
    if status in ENDED and st.session_state.get(_ENDED_KEY) != run_id:
        st.session_state[_ENDED_KEY] = run_id
        st.rerun(scope="app")


# -- the page ----------------------------------------------------------------------------------------
def _runs_frame(runs: list) -> pd.DataFrame:
    return pd.DataFrame([[r.id, r.runbook, r.status, r.trigger, r.started_by, r.started_at, r.finished_at, r.summary]
                         for r in runs], columns=RUN_COLUMNS)


def body() -> None:
    """The Runbooks page: the start form, the runs, then the picked run's detail."""
    st.title("Runbooks")
    identity = current_identity()
    st.caption("Each runbook is a Temporal workflow: diagnostics run by themselves, a destructive step waits for "
               "Confirm or Skip. Also `shipway runbook start|show|confirm|skip` and `temporal workflow signal`.")
    _show_flash()
    with data.session() as s:
        any_run = bool(queries.runbook_runs(s, limit=1))
    _start_form(identity, expanded=not any_run)
    st.subheader("Runs")
    status = st.selectbox("Status", [ALL, *RunbookStatus], key=STATUS_FILTER_KEY, format_func=str)
    with data.session() as s:
        runs = queries.runbook_runs(s, status=None if status == ALL else status, limit=LIST_LIMIT)
    wanted = st.query_params.get(QUERY_PARAM)
    if wanted and PICK_KEY not in st.session_state:
        st.session_state[PICK_KEY] = wanted
    ids = [r.id for r in runs]
    picked = st.session_state.get(PICK_KEY)
    if picked and picked not in ids:  # just started (no row yet), or filtered out: keep it pickable
        ids.insert(0, picked)
    if not ids:
        st.info("No runbook runs yet." if status == ALL else f"No runbook runs with status {status}.")
        return
    st.dataframe(_runs_frame(runs), hide_index=True, key="runbook_runs_table",
                 column_config={"started": st.column_config.DatetimeColumn("started (UTC)"),
                                "finished": st.column_config.DatetimeColumn("finished (UTC)")})
    labels = {r.id: f"{r.runbook} · {r.status} · {r.started_at:%Y-%m-%d %H:%M:%S} · {r.id}" for r in runs}
    run_id = st.selectbox("Run", ids, key=PICK_KEY, format_func=lambda i: labels.get(i, i))
    st.query_params[QUERY_PARAM] = run_id
    row = next((r for r in runs if r.id == run_id), None)
    if row is None or row.status not in ENDED:
        _live_run_view(run_id, identity)
    else:
        _run_view(run_id, identity)


run_page(body)
