"""Progress of the long operations started from the console, shown until they settle.

- A submitted version's lifecycle (Create agent page): validate, guard, build, index, until it waits
  for an approver (or fails).
- An approved version's lifecycle (Approvals page): the rollout its approval started, until the
  version is live, rolled back or failed.
- A rollout (Deployments page): its step and weight while it is in progress or paused.
- A resumed run (Runs page): until it waits for an answer again or has ended.

A lifecycle is followed in the page's own script run: it queries the workflow (``status``, and its
rollout's ``progress`` once deploying) every :data:`POLL_S` seconds for at most
:data:`FOLLOW_TIMEOUT_S` seconds, in an ``st.status`` box with a progress bar and a link to the
workflow in the Temporal UI; past the timeout the operation goes on and the box says where it is.
A resumed run is followed the same way, from its row in the database. A rollout bakes for minutes,
so its progress refreshes in a fragment every :data:`ROLLOUT_REFRESH_S` seconds instead of holding
the page.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import streamlit as st
from temporalio.service import RPCError

from console import actions, data
from shipway.settings import get_settings
from workflows.statuses import DeploymentState, LifecycleStep, RunStatus, VersionStatus
from workflows.types import DeploymentProgress, LifecycleStatus, deployment_workflow_id, lifecycle_workflow_id, run_workflow_id

FOLLOW_TIMEOUT_S = 30.0  # how long a page follows a lifecycle before leaving it to run on
POLL_S = 0.5
ROLLOUT_REFRESH_S = 5.0
_ENDED_KEY = "rollout_ended_seen"
_STEPS = list(LifecycleStep)
_ENDED_BADLY = frozenset({VersionStatus.FAILED, VersionStatus.REJECTED, VersionStatus.EXPIRED, VersionStatus.ROLLED_BACK})
# before these a version is still being built: a submission's progress ends once it reaches one
_BUILT = frozenset({VersionStatus.AWAITING_APPROVAL, VersionStatus.DEPLOYING, VersionStatus.LIVE})

Snapshot = tuple[LifecycleStatus, DeploymentProgress | None]


def built(snapshot: Snapshot) -> bool:
    """A submission has settled: built and waiting for an approver, further, or ended."""
    status = VersionStatus(snapshot[0].status)
    return status in _BUILT or not status.in_progress


def settled(snapshot: Snapshot) -> bool:
    """An approved version has settled: live, or ended (rolled back, failed...)."""
    return not VersionStatus(snapshot[0].status).in_progress


def lifecycle_fraction(snapshot: Snapshot) -> float:
    """How far the lifecycle is, 0-1: its step among :class:`~workflows.statuses.LifecycleStep`,
    with the rollout's steps filling the deploy step."""
    status, rollout = snapshot
    if status.status == VersionStatus.LIVE:
        return 1.0
    done = _STEPS.index(LifecycleStep(status.step))
    if rollout is not None and rollout.steps_total:
        done += min(rollout.step_index / rollout.steps_total, 1.0)
    return done / (len(_STEPS) - 1)


def lifecycle_text(snapshot: Snapshot) -> str:
    """The lifecycle's step and status in words (with its rollout's step and weight once deploying)."""
    status, rollout = snapshot
    text = f"step **{status.step}** · status **{status.status}**"
    if rollout is not None:
        text += f" · rollout step {min(rollout.step_index + 1, rollout.steps_total)} of {rollout.steps_total}, " \
                f"{rollout.weight_pct:g}% of traffic ({rollout.state})"
    if status.detail:
        text += f" · {status.detail}"
    return text


def follow_lifecycle(name: str, version: int, until: Callable[[Snapshot], bool], timeout_s: float = FOLLOW_TIMEOUT_S,
                     link: bool = True) -> Snapshot | None:
    """Show ``name`` v``version``'s lifecycle in an ``st.status`` box (with a link to its workflow
    in the Temporal UI unless ``link`` is False: the page shows one already), polling its workflow
    until ``until`` (:func:`built` or :func:`settled`) holds or ``timeout_s`` seconds have passed;
    returns the last snapshot, or None when the workflow could not be queried (the box says why)."""
    workflow_id = lifecycle_workflow_id(name, version)
    box = st.status(f"{name} v{version}: following its lifecycle", expanded=True)
    with box:
        if link:
            st.markdown(f"[Lifecycle workflow `{workflow_id}` in the Temporal UI]({get_settings().workflow_url(workflow_id)})")
        line, bar = st.empty(), st.progress(0.0)

    def show(snapshot: Snapshot) -> bool:
        line.markdown(lifecycle_text(snapshot))
        bar.progress(lifecycle_fraction(snapshot))
        return until(snapshot)

    try:
        last = actions.follow(lambda client: actions.lifecycle_and_rollout(client, name, version), show, timeout_s, POLL_S)
    except (RPCError, RuntimeError) as exc:
        box.update(label=f"{name} v{version}: cannot query its lifecycle workflow: {exc}", state="error")
        return None
    status = VersionStatus(last[0].status)
    if status in _ENDED_BADLY:
        box.update(label=f"{name} v{version}: {status}", state="error")
    elif until(last):
        box.update(label=f"{name} v{version}: " + ("waiting for an approver" if status == VersionStatus.AWAITING_APPROVAL
                                                   else str(status)), state="complete")
    else:
        box.update(label=f"{name} v{version}: still {status} after {timeout_s:g} s; it goes on without this page "
                         "(reload to see where it is)", state="running")
    return last


def rollout_progress(name: str, version: int, steps_done: int, steps_total: int) -> None:
    """The rollout's state, step and weight from its workflow's ``progress`` query (from the
    database's ``steps_done`` of ``steps_total`` when the workflow cannot be queried), refreshed
    every :data:`ROLLOUT_REFRESH_S` seconds while the page is open."""
    st.markdown("**Progress**")
    _rollout_fragment(name, version, steps_done, steps_total)


@st.fragment(run_every=ROLLOUT_REFRESH_S)
def _rollout_fragment(name: str, version: int, steps_done: int, steps_total: int) -> None:
    workflow_id = deployment_workflow_id(name, version)
    link = f"[rollout workflow]({get_settings().workflow_url(workflow_id)})"
    try:
        p = actions.rollout_progress(name, version)
    except (RPCError, RuntimeError) as exc:
        st.progress(steps_done / steps_total if steps_total else 0.0,
                    text=f"{steps_done} of {steps_total} steps done (from the database)")
        st.caption(f"The {link} cannot be queried: {exc}")
        return
    total = p.steps_total or steps_total
    reached = min(p.step_index + 1, total)
    st.progress(reached / total if total else 0.0,
                text=f"{p.state}: step {reached} of {total}, {p.weight_pct:g}% of traffic on v{version}")
    st.caption(f"As the {link} reports it now" + (f": {p.detail}" if p.detail else "") + ".")
    if p.state not in (DeploymentState.IN_PROGRESS, DeploymentState.PAUSED) and \
            st.session_state.get(_ENDED_KEY) != (workflow_id, str(p.state)):
        # the rollout ended while the page was open: redraw the whole page once, which stops this refresh
        st.session_state[_ENDED_KEY] = (workflow_id, str(p.state))
        st.rerun(scope="app")


def follow_run(run_id: str, tenant: str | None, timeout_s: float = FOLLOW_TIMEOUT_S) -> None:
    """Show a resumed run in an ``st.status`` box, reading its row every :data:`POLL_S` seconds
    until it settles (waits for an answer again, or has ended) or ``timeout_s`` seconds have passed."""
    box = st.status(f"Run {run_id}: following it", expanded=False)
    with box:
        workflow_id = run_workflow_id(run_id)
        st.markdown(f"[Run workflow `{workflow_id}` in the Temporal UI]({get_settings().workflow_url(workflow_id)})")
        line = st.empty()
    deadline = time.monotonic() + timeout_s
    while True:
        run = data.get_run(run_id, tenant)
        if run is None:
            box.update(label=f"Run {run_id} no longer exists", state="error")
            return
        status = RunStatus(run.status)
        line.markdown(f"status **{status}**" + (f" · {run.latency_ms:,.0f} ms" if run.latency_ms is not None else ""))
        if status.settled or time.monotonic() >= deadline:
            break
        time.sleep(POLL_S)
    if not status.settled:
        box.update(label=f"Run {run_id}: still {status} after {timeout_s:g} s; reload to see where it is", state="running")
    elif status in (RunStatus.SUCCEEDED, RunStatus.INTERRUPTED):
        box.update(label=f"Run {run_id}: " + ("waiting for an answer again" if status == RunStatus.INTERRUPTED else str(status)),
                   state="complete")
    else:
        box.update(label=f"Run {run_id}: {status}", state="error")
