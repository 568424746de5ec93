"""The approval step's deadline and reminders (short deadlines, real dev server)."""

from __future__ import annotations

import uuid

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from shipway import control
from shipway.db.engine import async_engine
from shipway.db.models import AgentVersion, AuditEvent
from workflows.types import LifecycleStatus

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_unanswered_approval_sends_reminders_then_expires(worker, monkeypatch):
    from shipway.settings import get_settings

    monkeypatch.setenv("SHIPWAY_APPROVAL_TIMEOUT_S", "3")
    monkeypatch.setenv("SHIPWAY_APPROVAL_REMINDER_S", "1")
    get_settings.cache_clear()
    spec = {"name": f"deadline-{uuid.uuid4().hex[:8]}", "owner": "olivia.owner@bank.example",
            "template": "counting_agent:AGENT", "description": "A test agent nobody approves in time."}
    name, _, wf_id = await control.submit_agent(worker, async_engine(), spec, submitted_by=spec["owner"])
    result = await worker.get_workflow_handle(wf_id, result_type=LifecycleStatus).result()
    assert result.state == "failed" and result.detail == "approval deadline passed"
    async with AsyncSession(async_engine()) as s:
        status = (await s.exec(select(AgentVersion.status).where(AgentVersion.agent_name == name))).one()
        actions = list((await s.exec(select(AuditEvent.action).where(AuditEvent.subject == f"agent:{name}:v1")
                                     .order_by(AuditEvent.id))).all())
    assert status == "expired"
    # one reminder per full interval that passes before the deadline (at most two in three seconds)
    assert 1 <= actions.count("lifecycle.approval_reminder") <= 2
    assert actions[-1] == "lifecycle.approval_expired"
