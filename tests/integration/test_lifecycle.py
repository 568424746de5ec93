"""AgentLifecycleWorkflow on a real Temporal dev server and a real PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from pathlib import Path

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import WorkflowFailureError

from activities.audit_log import verify_chain
from shipway import control
from shipway.db.engine import async_engine
from shipway.db.models import AgentVersion, Approval, AuditEvent, TrafficWeight
from workflows.types import QUERY_STATUS, LifecycleStatus

pytestmark = pytest.mark.asyncio(loop_scope="session")

OWNER = "olivia.owner@bank.example"


def counting_spec(**overrides) -> dict:
    spec = {
        "name": f"counting-{uuid.uuid4().hex[:8]}",
        "owner": OWNER,
        "description": "A three-node test agent used by the integration tests of the lifecycle.",
        "template": "counting_agent:AGENT",
        "system_prompt": "Count the nodes you visit.",
        "data_classification": "internal",
    }
    spec.update(overrides)
    return spec


async def wait_for_step(handle, step: str, timeout_s: float = 120) -> LifecycleStatus:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        st = await handle.query(QUERY_STATUS, result_type=LifecycleStatus)
        if st.step == step or st.state != "running":
            return st
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"workflow stayed at {st.step}")
        await asyncio.sleep(0.2)


async def submit(client, spec):
    name, version, wf_id = await control.submit_agent(client, async_engine(), spec, submitted_by=spec["owner"])
    return name, version, client.get_workflow_handle(wf_id, result_type=LifecycleStatus)


async def test_approve_path_goes_live_with_artifact_embedding_traffic_and_audit(worker):
    client = worker
    name, version, handle = await submit(client, counting_spec())
    st = await wait_for_step(handle, "approval")
    assert (st.step, st.state, st.owner) == ("approval", "running", OWNER)
    await control.approve(client, name, version, "carol.approver@bank.example", "model risk review passed")
    result = await handle.result()
    assert result.state == "live" and result.step == "live" and result.approver == "carol.approver@bank.example"

    async with AsyncSession(async_engine()) as s:
        av = (await s.exec(select(AgentVersion).where(AgentVersion.agent_name == name))).one()
        assert av.status == "live"
        assert hashlib.sha256(Path(av.artifact_path).read_bytes()).hexdigest() == av.artifact_sha256 == result.artifact_sha256
        assert len(av.embedding) == 384
        weights = (await s.exec(select(TrafficWeight).where(TrafficWeight.agent_name == name))).all()
        assert [(w.version, w.weight_pct) for w in weights] == [(1, 100.0)]
        actions = [e.action for e in (await s.exec(select(AuditEvent).where(AuditEvent.subject == f"agent:{name}:v1").order_by(AuditEvent.id))).all()]
        assert verify_chain and (await verify_chain(s)) == (True, None)
    for step in ("validate", "guard", "scaffold", "index"):
        assert f"lifecycle.{step}.ok" in actions
    assert actions[0] == "lifecycle.submitted" and actions[-1] == "lifecycle.live"
    assert "deployment.succeeded" in actions

    history = [e.activity_task_scheduled_event_attributes.activity_type.name
               async for e in handle.fetch_history_events() if e.HasField("activity_task_scheduled_event_attributes")]
    for activity in ("validate_spec", "guard_spec", "scaffold_agent", "index_agent", "record_approval"):
        assert activity in history


async def test_owner_approval_is_refused_and_recorded(worker):
    client = worker
    name, version, handle = await submit(client, counting_spec())
    await wait_for_step(handle, "approval")
    await control.approve(client, name, version, OWNER.upper(), "I wrote it, ship it")
    for _ in range(100):
        st = await handle.query(QUERY_STATUS, result_type=LifecycleStatus)
        if st.refused:
            break
        await asyncio.sleep(0.1)
    assert st.step == "approval" and st.state == "running"
    assert "owner" in st.refused[0]
    # the refusal shows in the query at once; its row is written by the activity that follows
    for _ in range(100):
        async with AsyncSession(async_engine()) as s:
            rows = (await s.exec(select(Approval).where(Approval.agent_name == name))).all()
        if rows:
            break
        await asyncio.sleep(0.1)
    assert [(r.accepted, r.approver) for r in rows] == [(False, OWNER.upper())]
    assert "owner" in rows[0].refusal_reason
    await control.approve(client, name, version, "dave.risk@bank.example", "second pair of eyes")
    assert (await handle.result()).state == "live"


async def test_reject_path(worker):
    client = worker
    name, version, handle = await submit(client, counting_spec())
    await wait_for_step(handle, "approval")
    await control.reject(client, name, version, "carol.approver@bank.example", "tools not approved for PII data")
    result = await handle.result()
    assert result.state == "rejected" and "tools not approved" in result.detail
    async with AsyncSession(async_engine()) as s:
        av = (await s.exec(select(AgentVersion).where(AgentVersion.agent_name == name))).one()
        weights = (await s.exec(select(TrafficWeight).where(TrafficWeight.agent_name == name))).all()
    assert av.status == "rejected" and weights == []


async def test_malformed_spec_fails_naming_the_field(worker):
    client = worker
    name, _, handle = await submit(client, counting_spec(data_classification="top-secret", description="short"))
    with pytest.raises(WorkflowFailureError) as exc:
        await handle.result()
    message = str(exc.value.cause)
    assert "data_classification" in message and "description" in message
    async with AsyncSession(async_engine()) as s:
        av = (await s.exec(select(AgentVersion).where(AgentVersion.agent_name == name))).one()
        actions = [e.action for e in (await s.exec(select(AuditEvent).where(AuditEvent.subject == f"agent:{name}:v1"))).all()]
    assert av.status == "failed"
    assert "lifecycle.validate.failed" in actions


async def test_unknown_template_is_a_spec_error(worker):
    _, _, handle = await submit(worker, counting_spec(template="no_such_agent"))
    with pytest.raises(WorkflowFailureError) as exc:
        await handle.result()
    assert "template" in str(exc.value.cause)


async def test_pii_in_spec_is_rejected_with_entity_and_position(worker):
    description = "Scores loans. Escalations go to the card 4111 1111 1111 1111 on file."
    prompt = "You help analysts. Example customer SSN 536-22-1937."
    _, _, handle = await submit(worker, counting_spec(description=description, system_prompt=prompt))
    with pytest.raises(WorkflowFailureError) as exc:
        await handle.result()
    message = str(exc.value.cause)
    start = description.index("4111")
    assert f"CREDIT_CARD in description at {start}-{start + 19}" in message
    assert "US_SSN in system_prompt" in message
    st = await handle.query(QUERY_STATUS, result_type=LifecycleStatus)
    assert st.step == "guard" and st.state == "failed"


async def test_submit_without_valid_name_is_refused_before_starting(worker):
    from shipway.spec import SpecError

    with pytest.raises(SpecError, match="name"):
        await control.submit_agent(worker, async_engine(), {"owner": OWNER}, submitted_by=OWNER)
