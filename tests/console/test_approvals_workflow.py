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


async def _awaiting_approval(client, db) -> tuple[str, int]:
    """A new counting version listed in the catalog as awaiting approval (what the page lists)."""
    name, version = await submit(client, db, counting_spec())
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
    assert f"Refused approve by {OWNER} (via update)" in listed.value and "owner" in listed.value
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
        (False, ApprovalKind.APPROVE, OWNER, "update"), (True, ApprovalKind.APPROVE, APPROVER, "update")]


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
