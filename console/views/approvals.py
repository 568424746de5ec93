"""Approvals page: versions awaiting approval, refused attempts, and approve/reject as the operator."""

import time

import streamlit as st
from temporalio.service import RPCError

from console import actions, data
from console.ui import acting_as, run_page

FLASH_KEY = "approval_flash"
WAIT_FOR_WORKFLOW_S = 5.0  # how long to wait for the workflow to record a decision before reporting "sent"


def _await_outcome(p: data.PendingApproval, approver: str, after_id: int) -> tuple[str, str]:
    """Poll the catalog until the workflow records the decision or moves the version on."""
    deadline = time.monotonic() + WAIT_FOR_WORKFLOW_S
    while time.monotonic() < deadline:
        row = data.decision_since(p.agent, p.version, approver, after_id)
        if row is not None and not row.accepted:
            return "error", f"The workflow refused {approver}'s {row.decision} of {p.agent} v{p.version}: {row.refusal_reason}"
        if row is not None:
            return "success", f"{row.decision.capitalize()} of {p.agent} v{p.version} by {approver} accepted."
        status = data.version_status(p.agent, p.version)
        if status != "awaiting_approval":
            return "success", f"{p.agent} v{p.version} moved on to '{status}' after {approver}'s decision."
        time.sleep(0.25)
    return "info", f"Signal sent to {p.workflow_id}; the workflow has not recorded the decision yet. Refresh in a moment."


def _decide(decision: str, p: data.PendingApproval, approver: str, reason: str) -> None:
    if not approver:
        st.session_state[FLASH_KEY] = ("error", "Enter an operator name in the sidebar first.")
        return
    if not reason.strip():
        st.session_state[FLASH_KEY] = ("error", "Give a reason for the decision; it goes to the audit log.")
        return
    after_id = data.last_approval_id(p.agent, p.version)
    try:
        actions.decide(decision, p.agent, p.version, approver, reason.strip())
    except (RPCError, RuntimeError) as exc:
        st.session_state[FLASH_KEY] = ("error", f"Could not signal {p.workflow_id}: {exc}")
        return
    st.session_state[FLASH_KEY] = _await_outcome(p, approver, after_id)


def _show_flash() -> None:
    flash = st.session_state.pop(FLASH_KEY, None)
    if flash:
        kind, message = flash
        {"error": st.error, "success": st.success, "info": st.info}[kind](message)


def _pending_card(p: data.PendingApproval, approver: str) -> None:
    with st.container(border=True):
        st.subheader(f"{p.agent} v{p.version}")
        st.markdown(
            f"| owner | template | model | data classification |\n|---|---|---|---|\n"
            f"| {p.owner} | {p.template} | {p.model or '(none)'} | {p.data_classification} |"
        )
        st.markdown(p.description)
        st.markdown(f"Waiting since {p.waiting_since:%Y-%m-%d %H:%M} UTC · [lifecycle workflow]({p.workflow_url})")
        for r in p.refused:
            st.warning(f"Refused {r.decision} by {r.approver} at {r.created_at:%Y-%m-%d %H:%M:%S} UTC: {r.refusal_reason}")
        key = f"{p.agent}:{p.version}"
        with st.form(f"decide:{key}"):
            reason = st.text_area("Reason", key=f"reason:{key}", placeholder="e.g. model risk review MRM-112 passed")
            approve_col, reject_col = st.columns(2)
            approve = approve_col.form_submit_button("Approve", key=f"approve:{key}", type="primary")
            reject = reject_col.form_submit_button("Reject", key=f"reject:{key}")
        if approve or reject:
            _decide("approve" if approve else "reject", p, approver, reason)
            st.rerun()


def body() -> None:
    st.title("Approvals")
    approver = acting_as()
    st.caption(f"You act as **{approver or '(nobody: enter a name in the sidebar)'}**. An owner may not approve their own agent.")
    _show_flash()
    pending = data.pending_approvals()
    if not pending:
        st.info("No agent versions are waiting for approval.")
        return
    for p in pending:
        _pending_card(p, approver)


run_page(body)
