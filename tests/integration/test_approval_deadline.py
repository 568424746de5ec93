"""The approval step's deadline and reminders (short deadlines, real dev server)."""

from __future__ import annotations

import pytest

from shipway import control, queries
from tests.support.lifecycle import counting_spec, submit
from workflows.statuses import VersionStatus
from workflows.types import lifecycle_workflow_id

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_unanswered_approval_sends_reminders_then_expires(worker, db, monkeypatch):
    from shipway.settings import get_settings

    monkeypatch.setenv("SHIPWAY_APPROVAL_TIMEOUT_S", "3")
    monkeypatch.setenv("SHIPWAY_APPROVAL_REMINDER_S", "1")
    get_settings.cache_clear()
    name, version = await submit(worker, db, counting_spec(description="A test agent nobody approves in time."))
    result = await control.wait_lifecycle(worker, name, version)
    assert result.status == VersionStatus.EXPIRED and result.detail == "approval deadline passed"
    assert await db.read(queries.version_status, name, version) == VersionStatus.EXPIRED
    # the status is set just before the expiry is audited: the workflow's end is after both
    await worker.get_workflow_handle(lifecycle_workflow_id(name, version)).result()
    actions = [e.action for e in await db.read(queries.audit_events, f"agent:{name}:v1")]
    # one reminder per full interval that passes before the deadline (at most two in three seconds)
    assert 1 <= actions.count("lifecycle.approval_reminder") <= 2
    assert actions[-1] == "lifecycle.approval_expired"
