"""Approvals page: versions awaiting approval and, below them, the Jira webhook dead letters.

Each pending card shows how long the version has waited, its Jira issue (and a warning while Jira is
unreachable), the approvals so far of the ones it needs (two different approvers for restricted
data), the spec guard's findings, the diff against the previous built version, the attempts the
workflow refused and, to a role that may approve (``version.approve``), the decision form; the
lifecycle workflow itself answers each decision, and an approval that starts the rollout is followed
until the version is live or ended (:mod:`console.progress`). Dead letters (verified deliveries
whose workflow could not be signalled) are listed with Replay buttons for a role that may deploy
(:data:`console.actions.REPLAY_ACTION`)."""

from datetime import timedelta

import pandas as pd
import streamlit as st
from sqlalchemy.exc import OperationalError
from temporalio.service import RPCError

from activities.artifact_format import ArtifactError
from console import actions, data
from console.identity import Identity, current_identity
from console.progress import follow_lifecycle, settled
from console.ui import role_notice, run_page
from shipway.auth.roles import Action
from shipway.control import ActionRefused
from shipway.db.models import WebhookDelivery
from shipway.settings import get_settings
from workflows.statuses import ApprovalKind, WebhookOutcome
from workflows.types import deployment_workflow_id

FLASH_KEY = "approval_flash"
REPLAY_FLASH_KEY = "replay_flash"
FOLLOW_KEY = "approval_follow"  # (agent, version) whose rollout an approval just started
FINDING_COLUMNS = ["field", "entity", "start", "end", "score"]
DEAD_LETTER_COLUMNS = ["id", "received", "issue", "decision", "Jira account -> approver", "attempts", "detail"]
FLASH = {"success": st.success, "warning": st.warning, "error": st.error}


def waited(age: timedelta) -> str:
    """A waiting time in words, to the minute: ``"2 d 5 h"``, ``"3 h 12 min"``, ``"7 min"``."""
    minutes = max(int(age.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else "less than a minute"


def _decide(decision: ApprovalKind, p: data.PendingApproval, identity: Identity, reason: str) -> tuple[str, str]:
    """Send the decision and return ``(kind, message)`` for the flash shown after the rerun."""
    if not identity.name:
        return "error", "Enter an operator name in the sidebar first."
    if not reason.strip():
        return "error", "Give a reason for the decision; it goes to the audit log."
    what = f"{identity.name}'s {decision} of {p.agent} v{p.version}"
    try:
        outcome = actions.decide(identity, p.agent, p.version, decision, reason.strip())
    except ActionRefused as exc:
        return "error", f"{what} refused: {exc.reason}"
    except (RPCError, RuntimeError) as exc:
        return "error", f"Could not reach {p.workflow_id}: {exc}"
    if decision == ApprovalKind.REJECT:
        then = "the version is rejected"
    elif outcome.approvals < outcome.required:  # restricted data: the version keeps waiting
        then = f"approval {outcome.approvals} of {outcome.required} recorded: a second, different approver is needed"
    else:
        then = "the rollout starts"
        st.session_state[FOLLOW_KEY] = (p.agent, p.version)
    return "success", f"{what} accepted: {then}."


def _show_flash(key: str) -> None:
    flash = st.session_state.pop(key, None)
    if flash:
        kind, message = flash
        FLASH[kind](message)


def _jira_line(p: data.PendingApproval) -> str:
    """The Jira issue as a link; "no Jira issue yet" while it is being opened; "" without Jira."""
    if p.jira_key:
        return f"Jira [{p.jira_key}]({p.jira_url})" if p.jira_url else f"Jira {p.jira_key}"
    # the console's settings may lag the worker's: a failing open also says Jira is in use
    return "no Jira issue yet" if get_settings().jira_configured or p.jira_unreachable_since else ""


def _diff(p: data.PendingApproval) -> None:
    """The spec diff and the changed files against the previous built version, in an expander."""
    old = p.previous_version
    with st.expander(f"Diff against v{old}" if old else "Diff against the previous version"):
        if old is None:
            st.caption("First version: nothing to compare.")
            return
        try:
            result = data.compare_versions(p.agent, old, p.version)
        except (LookupError, ArtifactError, data.DatabaseUnavailable) as exc:  # LookupError covers ArtifactNotFound
            st.error(f"Cannot compare v{old} and v{p.version}: {exc}")
            return
        for version, status in result.unbuilt:
            st.caption(f"v{version} has no artifact yet (status: {status}): only the specs are compared.")
        if result.diff.unchanged:
            st.caption(f"Same spec{'' if result.unbuilt else ' and files'} as v{old}.")
        if result.diff.spec_diff:
            st.markdown("**Spec**")
            st.code(result.diff.spec_diff, language="diff")
        for change in result.diff.files:
            st.markdown(f"`{change.path}`: {change.change}" + (f" ({change.note})" if change.note else ""))
            if change.diff:
                st.code(change.diff, language="diff")


def _pending_card(p: data.PendingApproval, identity: Identity) -> None:
    with st.container(border=True):
        st.subheader(f"{p.agent} v{p.version}")
        st.markdown(
            f"| owner | submitted by | template | model | data classification |\n|---|---|---|---|---|\n"
            f"| {p.owner} | {p.submitted_by or '(unknown)'} | {p.template} | {p.model or '(none)'} | {p.data_classification} |"
        )
        st.markdown(p.description)
        st.markdown(" · ".join(part for part in (
            f"Waiting {waited(p.age)} (since {p.waiting_since:%Y-%m-%d %H:%M} UTC)",
            f"[lifecycle workflow]({p.workflow_url})", _jira_line(p)) if part))
        if p.jira_unreachable_since:
            st.warning(f"Jira unreachable since {p.jira_unreachable_since:%Y-%m-%d %H:%M:%S} UTC: "
                       f"{p.jira_error or '(no error recorded)'}; the workflow keeps retrying.")
        if p.required_approvers > 1:
            who = f" ({', '.join(p.approvers_so_far)})" if p.approvers_so_far else ""
            st.markdown(f"Approvals: {len(p.approvers_so_far)} of {p.required_approvers}{who}; "
                        f"{p.data_classification} data needs {p.required_approvers} different approvers.")
        if p.guard_findings:
            st.markdown("**Spec guard findings** (below the blocking threshold)")
            st.dataframe(pd.DataFrame(p.guard_findings, columns=FINDING_COLUMNS), hide_index=True,
                         key=f"findings:{p.agent}:{p.version}")
        else:
            st.caption("No spec guard findings.")
        _diff(p)
        for r in p.refused:
            st.warning(f"Refused {r.decision} by {r.approver} (via {r.channel}) at {r.created_at:%Y-%m-%d %H:%M:%S} UTC: "
                       f"{r.refusal_reason}")
        if not identity.may(Action.VERSION_APPROVE):
            return  # body() says why once, above the cards
        key = f"{p.agent}:{p.version}"
        with st.form(f"decide:{key}"):
            reason = st.text_area("Reason", key=f"reason:{key}", placeholder="e.g. model risk review MRM-112 passed")
            approve_col, reject_col = st.columns(2)
            approve = approve_col.form_submit_button("Approve", key=f"approve:{key}", type="primary")
            reject = reject_col.form_submit_button("Reject", key=f"reject:{key}")
        if approve or reject:
            decision = ApprovalKind.APPROVE if approve else ApprovalKind.REJECT
            st.session_state[FLASH_KEY] = _decide(decision, p, identity, reason)
            st.rerun()


def _replay(identity: Identity, ids: list[int] | None) -> tuple[str, str]:
    """Replay dead letters (``ids``, or every one) and return ``(kind, message)`` for the flash."""
    try:
        results = actions.replay_dead_letters(identity, ids)
    except LookupError as exc:
        return "error", f"Nothing replayed: {exc}"
    except (RuntimeError, OperationalError) as exc:
        return "error", f"Could not replay: {exc}"
    if not results:
        return "success", "No dead letters to replay."
    stuck = any(outcome == WebhookOutcome.DEAD_LETTER for _, outcome, _ in results)
    lines = "\n".join(f"- #{delivery}: {outcome}: {detail}" for delivery, outcome, detail in results)
    return ("warning" if stuck else "success"), f"Replayed {len(results)} dead letter(s):\n{lines}"


def _dead_letter_frame(letters: list[WebhookDelivery]) -> pd.DataFrame:
    return pd.DataFrame(
        [[d.id, d.received_at, d.issue_key, d.decision, f"{d.jira_account_id or '-'} -> {d.approver or '(unmapped)'}",
          d.attempts, d.detail] for d in letters],
        columns=DEAD_LETTER_COLUMNS,
    )


def _dead_letters(identity: Identity) -> None:
    """The dead letters, newest first, with a Replay button each and Replay all for a role that may replay."""
    st.header("Webhook dead letters")
    st.caption("Verified Jira deliveries whose workflow could not be signalled (Temporal unreachable, or the workflow "
               "closed). A replay re-drives each from its stored body; the workflow still refuses what it must.")
    _show_flash(REPLAY_FLASH_KEY)
    letters = data.dead_letters()
    if not letters:
        st.caption("No dead letters.")
        return
    st.dataframe(_dead_letter_frame(letters), hide_index=True, key="dead_letters_table")
    if not identity.may(actions.REPLAY_ACTION):
        role_notice(identity, actions.REPLAY_ACTION, "replay dead letters")
        return
    clicked, ids = False, None  # ids None: every dead letter
    with st.container(horizontal=True):
        for d in letters:
            if st.button(f"Replay #{d.id}", key=f"replay:{d.id}"):
                clicked, ids = True, [d.id]
        if st.button("Replay all", key="replay_all", type="primary"):
            clicked, ids = True, None
    if clicked:
        st.session_state[REPLAY_FLASH_KEY] = _replay(identity, ids)
        st.rerun()


def _follow_rollout() -> None:
    """After an approval that starts a rollout: follow the lifecycle until the version is live or
    ended, then (if the rollout still bakes) link to it on the Deployments page."""
    follow = st.session_state.pop(FOLLOW_KEY, None)
    if follow is None:
        return
    agent, version = follow
    last = follow_lifecycle(agent, version, settled)
    if last is not None and not settled(last):
        st.page_link("views/deployments.py", label=f"Deployments: the rollout of {agent} v{version}", icon=":material/alt_route:",
                     query_params={"deployment": deployment_workflow_id(agent, version)})


def body() -> None:
    """The Approvals page: one card per version awaiting approval (with its decision form when the
    role may approve), then the webhook dead letters."""
    st.title("Approvals")
    identity = current_identity()
    st.caption(f"You act as **{identity.name or '(nobody: enter a name in the sidebar)'}** (role {identity.role}). "
               "An owner may not approve their own agent; restricted data needs two different approvers.")
    if not identity.may(Action.VERSION_APPROVE):
        role_notice(identity, Action.VERSION_APPROVE, "approve or reject versions")
    _show_flash(FLASH_KEY)
    _follow_rollout()
    pending = data.pending_approvals()
    if not pending:
        st.info("No agent versions are waiting for approval.")
    for p in pending:
        _pending_card(p, identity)
    _dead_letters(identity)


run_page(body)
