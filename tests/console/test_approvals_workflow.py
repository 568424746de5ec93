"""The Approvals page against Shipway's real lifecycle workflow and worker: the workflow's answer
to each decision is shown at once (accepted, or refused with its reason), and the decision takes
the version where the workflow says. The console's local operator has the ``approver`` role here."""

from __future__ import annotations

import asyncio

import pytest

from shipway import control, queries
from tests.console.conftest import open_page, run_app
from tests.support.lifecycle import APPROVER, OWNER, counting_spec, submit, wait_for_step
from workflows.statuses import ApprovalKind, LifecycleStep, VersionStatus

pytestmark = pytest.mark.asyncio(loop_scope="session")


SECOND_APPROVER = "dave.second@bank.example"


async def _awaiting_approval(client, db, **spec) -> tuple[str, int]:
    """A new counting version (its spec's fields overridden by ``spec``) listed in the catalog as
    awaiting approval (what the page lists)."""
    name, version = await submit(client, db, counting_spec(**spec))
    await wait_for_step(client, name, version, LifecycleStep.APPROVAL)
    # the workflow enters the step before its activity records the status: wait for the row
    deadline = asyncio.get_running_loop().time() + 30
    while (status := await db.read(queries.version_status, name, version)) != VersionStatus.AWAITING_APPROVAL:
        assert asyncio.get_running_loop().time() < deadline, f"{name} v{version} stayed {status}"
        await asyncio.sleep(0.1)
    return name, version


async def test_owner_is_refused_and_another_operator_approves_through_the_console(shipway_worker, db, console_role):
    console_role("approver")
    client = shipway_worker
    name, version = await _awaiting_approval(client, db)
    key = f"{name}:{version}"

    at = await open_page("views/approvals.py", OWNER)
    at.text_area(key=f"reason:{key}").input("I built it and tested it")
    at.button(key=f"approve:{key}").click()
    await run_app(at)
    [refusal] = at.error
    assert refusal.value.startswith(f"{OWNER}'s approve of {name} v{version} refused: ")
    assert "approver is the agent's owner" in refusal.value
    [listed] = at.warning  # the refused attempt stays listed, with its channel
    assert f"Refused approve by {OWNER} (via console)" in listed.value and "owner" in listed.value
    assert not at.success

    at.session_state["acting_as"] = APPROVER
    await run_app(at)
    at.text_area(key=f"reason:{key}").input("model risk review MRM-112 passed")
    at.button(key=f"approve:{key}").click()
    await run_app(at)
    assert not at.error
    assert [s.value for s in at.success] == [f"{APPROVER}'s approve of {name} v{version} accepted: the rollout starts."]

    result = await control.wait_lifecycle(client, name, version)
    assert (result.status, result.approver) == (VersionStatus.LIVE, APPROVER)
    rows = await db.read(queries.approvals, name, version)
    assert [(r.accepted, r.decision, r.approver, r.channel) for r in rows] == [
        (False, ApprovalKind.APPROVE, OWNER, "console"), (True, ApprovalKind.APPROVE, APPROVER, "console")]


async def test_reject_from_the_console_rejects_the_version_and_the_agents_page_says_why(shipway_worker, db, console_role):
    console_role("approver")
    client = shipway_worker
    name, version = await _awaiting_approval(client, db)
    key = f"{name}:{version}"

    at = await open_page("views/approvals.py", APPROVER)
    at.text_area(key=f"reason:{key}").input("PD model not validated")
    at.button(key=f"reject:{key}").click()
    await run_app(at)
    assert not at.error
    assert [s.value for s in at.success] == [f"{APPROVER}'s reject of {name} v{version} accepted: the version is rejected."]

    assert (await control.wait_lifecycle(client, name, version)).status == VersionStatus.REJECTED
    assert await db.read(queries.version_status, name, version) == VersionStatus.REJECTED
    [row] = await db.read(queries.approvals, name, version, accepted=True)
    assert (row.decision, row.approver, row.reason) == (ApprovalKind.REJECT, APPROVER, "PD model not validated")

    at.switch_page("views/agents.py")
    await run_app(at)
    v = at.dataframe[1].value.set_index("version")
    assert v.loc[version, "status"] == VersionStatus.REJECTED
    assert v.loc[version, "status_detail"] == f"rejected by {APPROVER}: PD model not validated"


async def _approve(at, name: str, version: int, approver: str, reason: str):
    """Act as ``approver`` and approve ``name`` v``version`` with ``reason`` on the open page."""
    at.session_state["acting_as"] = approver
    await run_app(at)
    key = f"{name}:{version}"
    at.text_area(key=f"reason:{key}").input(reason)
    at.button(key=f"approve:{key}").click()
    return await run_app(at)


async def test_a_restricted_version_needs_two_different_approvers_through_the_console(shipway_worker, db, console_role):
    console_role("approver")
    client = shipway_worker
    name, version = await _awaiting_approval(client, db, data_classification="restricted")
    what = f"{name} v{version}"

    at = await open_page("views/approvals.py", APPROVER)
    assert "Approvals: 0 of 2; restricted data needs 2 different approvers." in [m.value for m in at.markdown]

    await _approve(at, name, version, APPROVER, "model risk review MRM-112 passed")
    assert not at.error
    assert [s.value for s in at.success] == [
        f"{APPROVER}'s approve of {what} accepted: approval 1 of 2 recorded: a second, different approver is needed."]
    assert await db.read(queries.version_status, name, version) == VersionStatus.AWAITING_APPROVAL
    assert f"Approvals: 1 of 2 ({APPROVER}); restricted data needs 2 different approvers." in [m.value for m in at.markdown]

    await _approve(at, name, version, APPROVER, "approving again")
    [refusal] = at.error
    assert refusal.value.startswith(f"{APPROVER}'s approve of {what} refused: ")
    assert f"{APPROVER} already approved" in refusal.value
    assert not at.success
    assert await db.read(queries.version_status, name, version) == VersionStatus.AWAITING_APPROVAL

    await _approve(at, name, version, SECOND_APPROVER, "data protection review DPR-7 passed")
    assert not at.error
    assert [s.value for s in at.success] == [f"{SECOND_APPROVER}'s approve of {what} accepted: the rollout starts."]

    result = await control.wait_lifecycle(client, name, version)
    assert (result.status, result.approvers) == (VersionStatus.LIVE, [APPROVER, SECOND_APPROVER])
    rows = await db.read(queries.approvals, name, version)
    assert [(r.accepted, r.approver, r.channel) for r in rows] == [
        (True, APPROVER, "console"), (False, APPROVER, "console"), (True, SECOND_APPROVER, "console")]
