"""Approvals page: versions awaiting approval, the attempts their workflow refused, and approve /
reject as the console's identity, answered by the lifecycle workflow itself. The decision form is
shown only to a role that may approve (``version.approve``)."""

import streamlit as st
from temporalio.service import RPCError

from console import actions, data
from console.identity import Identity, current_identity
from console.ui import role_notice, run_page
from shipway.auth.roles import Action
from shipway.control import ActionRefused
from workflows.statuses import ApprovalKind

FLASH_KEY = "approval_flash"


def _decide(decision: ApprovalKind, p: data.PendingApproval, identity: Identity, reason: str) -> tuple[str, str]:
    """Send the decision and return ``(kind, message)`` for the flash shown after the rerun."""
    if not identity.name:
        return "error", "Enter an operator name in the sidebar first."
    if not reason.strip():
        return "error", "Give a reason for the decision; it goes to the audit log."
    what = f"{identity.name}'s {decision} of {p.agent} v{p.version}"
    try:
        actions.decide(identity, p.agent, p.version, decision, reason.strip())
    except ActionRefused as exc:
        return "error", f"{what} refused: {exc.reason}"
    except (RPCError, RuntimeError) as exc:
        return "error", f"Could not reach {p.workflow_id}: {exc}"
    then = "the rollout starts" if decision == ApprovalKind.APPROVE else "the version is rejected"
    return "success", f"{what} accepted: {then}."


def _show_flash() -> None:
    flash = st.session_state.pop(FLASH_KEY, None)
    if flash:
        kind, message = flash
        (st.success if kind == "success" else st.error)(message)


def _pending_card(p: data.PendingApproval, identity: Identity) -> None:
    with st.container(border=True):
        st.subheader(f"{p.agent} v{p.version}")
        st.markdown(
            f"| owner | submitted by | template | model | data classification |\n|---|---|---|---|---|\n"
            f"| {p.owner} | {p.submitted_by or '(unknown)'} | {p.template} | {p.model or '(none)'} | {p.data_classification} |"
        )
        st.markdown(p.description)
        st.markdown(f"Waiting since {p.waiting_since:%Y-%m-%d %H:%M} UTC · [lifecycle workflow]({p.workflow_url})")
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


def body() -> None:
    """The Approvals page: one card per version awaiting approval, with its decision form when the
    role may approve."""
    st.title("Approvals")
    identity = current_identity()
    st.caption(f"You act as **{identity.name or '(nobody: enter a name in the sidebar)'}** (role {identity.role}). "
               "An owner may not approve their own agent.")
    if not identity.may(Action.VERSION_APPROVE):
        role_notice(identity, Action.VERSION_APPROVE, "approve or reject versions")
    _show_flash()
    pending = data.pending_approvals()
    if not pending:
        st.info("No agent versions are waiting for approval.")
        return
    for p in pending:
        _pending_card(p, identity)


run_page(body)
