"""AgentLifecycleWorkflow on a real Temporal dev server and a real PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from temporalio.client import WorkflowFailureError

from activities.artifact_format import manifest_of
from activities.artifact_store import store_from_settings
from activities.audit_log import verify_chain
from shipway import control, queries
from shipway.settings import get_settings
from shipway.spec import SpecError
from tests.support.lifecycle import APPROVER, OWNER, counting_spec, deploy, submit, wait_for_step
from workflows.statuses import ApprovalKind, LifecycleStep, VersionStatus
from workflows.types import SIGNAL_APPROVE, SIGNAL_REJECT, lifecycle_workflow_id

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _audit_actions(db, name: str, version: int = 1) -> list[str]:
    return [e.action for e in await db.read(queries.audit_events, f"agent:{name}:v{version}")]


async def _until(check, timeout_s: float = 30):
    """Poll ``check()`` (async) until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not (found := await check()):
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.1)
    return found


async def test_approve_path_goes_live_with_artifact_embedding_traffic_and_audit(worker, db):
    client = worker
    name, version = await submit(client, db, counting_spec())
    st = await wait_for_step(client, name, version, LifecycleStep.APPROVAL)
    assert (st.step, st.status, st.owner) == (LifecycleStep.APPROVAL, VersionStatus.AWAITING_APPROVAL, OWNER)
    outcome = await control.decide(client, name, version, ApprovalKind.APPROVE, APPROVER, "model risk review passed")
    assert outcome.accepted and outcome.approver == APPROVER
    result = await control.wait_lifecycle(client, name, version)
    assert (result.status, result.step, result.approver) == (VersionStatus.LIVE, LifecycleStep.LIVE, APPROVER)

    av = await db.read(queries.agent_version, name, version)
    assert av.status == VersionStatus.LIVE and av.submitted_by == OWNER
    stored = store_from_settings(get_settings()).get(av.artifact_sha256)
    assert hashlib.sha256(stored).hexdigest() == av.artifact_sha256 == result.artifact_sha256
    manifest = manifest_of(stored)
    assert manifest.graph == "shipway_entry.py:graph" and manifest.tests.summary == "2 passed"
    assert "counting_agent.py" in manifest.files and "reference_agents/common/hitl.py" in manifest.files
    assert av.manifest["input_schema"]["required"] == ["log_path"]
    assert len(av.embedding) == 384
    assert [(w.version, w.weight_pct) for w in await db.read(queries.traffic, name)] == [(1, 100.0)]
    assert await db.read(queries.live_version, name) == 1
    [row] = await db.read(queries.approvals, name, version)
    assert (row.accepted, row.approver, row.channel) == (True, APPROVER, "cli")
    actions = await _audit_actions(db, name)
    for step in ("validate", "guard", "scaffold", "index"):
        assert f"lifecycle.{step}.ok" in actions
    assert actions[0] == "lifecycle.submitted" and actions[-1] == "lifecycle.live"
    assert "deployment.succeeded" in actions
    assert verify_chain(await db.read(queries.audit_events)) == (True, None)
    deployment = (await db.read(queries.deployments, name))[0]
    assert (deployment.status, deployment.weight_pct, deployment.version) == ("succeeded", 100.0, 1)


async def test_owner_is_refused_by_signal_and_by_update_and_both_are_recorded(worker, db):
    client = worker
    name, version = await submit(client, db, counting_spec())
    await wait_for_step(client, name, version, LifecycleStep.APPROVAL)
    await control.signal_decision(client, name, version, ApprovalKind.APPROVE, OWNER.upper(), "I wrote it, ship it")
    with pytest.raises(control.ActionRefused, match="owner"):
        await control.decide(client, name, version, ApprovalKind.APPROVE, f"  {OWNER} ", "me again")
    st = await control.lifecycle_status(client, name, version)
    assert st.step == LifecycleStep.APPROVAL and st.status == VersionStatus.AWAITING_APPROVAL
    assert [(r.approver, r.channel) for r in st.refused] == [(OWNER.upper(), "cli"), (OWNER, "cli")]
    rows = await db.read(queries.approvals, name, version)
    assert [(r.accepted, r.approver, r.channel) for r in rows] == [(False, OWNER.upper(), "cli"), (False, OWNER, "cli")]
    assert all("owner" in r.refusal_reason for r in rows)
    assert (await _audit_actions(db, name)).count("lifecycle.approval_refused") == 2
    await control.decide(client, name, version, ApprovalKind.APPROVE, "dave.risk@bank.example", "second pair of eyes")
    assert (await control.wait_lifecycle(client, name, version)).status == VersionStatus.LIVE


@pytest.mark.parametrize("payload, why", [
    ({"approver": "", "reason": "x"}, "an approver must be named"),
    ({"approver": "   ", "reason": "x"}, "an approver must be named"),
    ("carol", "malformed approve signal"),
    ({"reason": "no approver at all"}, "malformed approve signal"),
    ({"approver": "carol", "reason": "x", "role": "admin"}, "malformed approve signal"),
])
async def test_malformed_or_anonymous_approve_signals_are_refused_and_recorded(worker, db, payload, why):
    """What ``temporal workflow signal --name approve --input ...`` can send: never accepted, always recorded."""
    client = worker
    name, version = await submit(client, db, counting_spec())
    await wait_for_step(client, name, version, LifecycleStep.APPROVAL)
    await client.get_workflow_handle(lifecycle_workflow_id(name, version)).signal(SIGNAL_APPROVE, payload)
    rows = await _until(lambda: db.read(queries.approvals, name, version))
    assert [(r.accepted, r.decision) for r in rows] == [(False, "approve")]
    assert why in rows[0].refusal_reason
    st = await control.lifecycle_status(client, name, version)
    assert st.status == VersionStatus.AWAITING_APPROVAL and why in st.refused[0].why
    # recorded by the activity after the one that wrote the approval row
    events = await _until(lambda: db.read(queries.audit_events, f"agent:{name}:v1", "lifecycle.approval_refused"))
    assert events[0].detail["payload"] == payload
    await control.decide(client, name, version, ApprovalKind.REJECT, APPROVER, "cleanup")


async def test_update_validator_refuses_with_a_reason(worker, db):
    client = worker
    name, version = await submit(client, db, counting_spec())
    await wait_for_step(client, name, version, LifecycleStep.APPROVAL)
    with pytest.raises(control.ActionRefused, match="approver must be named"):
        await control.decide(client, name, version, ApprovalKind.APPROVE, " ", "why not")
    with pytest.raises(control.ActionRefused, match="reason"):
        await control.decide(client, name, version, ApprovalKind.APPROVE, APPROVER, "")
    await control.decide(client, name, version, ApprovalKind.APPROVE, APPROVER, "ok")
    await control.wait_lifecycle(client, name, version)
    with pytest.raises(control.ActionRefused, match="not awaiting approval"):
        await control.decide(client, name, version, ApprovalKind.REJECT, "dave.risk@bank.example", "too late")
    # a late signal is refused and recorded too
    await control.signal_decision(client, name, version, ApprovalKind.REJECT, "dave.risk@bank.example", "too late")
    rows = await _until(lambda: _refused(db, name, version))
    assert "already decided" in rows[0].refusal_reason


async def _refused(db, name, version):
    return await db.read(queries.approvals, name, version, accepted=False)


async def test_reject_path(worker, db):
    client = worker
    name, version = await submit(client, db, counting_spec())
    await wait_for_step(client, name, version, LifecycleStep.APPROVAL)
    await client.get_workflow_handle(lifecycle_workflow_id(name, version)).signal(
        SIGNAL_REJECT, {"approver": APPROVER, "reason": "tools not approved for PII data"})
    result = await control.wait_lifecycle(client, name, version)
    assert result.status == VersionStatus.REJECTED and "tools not approved" in result.detail
    av = await db.read(queries.agent_version, name, version)
    assert av.status == VersionStatus.REJECTED and "tools not approved" in av.status_detail
    assert await db.read(queries.traffic, name) == []


async def test_a_newer_live_version_supersedes_the_older_one_in_catalog_and_query(worker, db):
    client = worker
    spec = counting_spec()
    name, v1 = await deploy(client, db, spec)
    _, v2 = await deploy(client, db, spec)
    assert (v1, v2) == (1, 2)
    old = await _until(lambda: _superseded(client, name, v1))
    assert old.detail == "superseded by v2"
    assert (await db.read(queries.agent_version, name, v1)).status == VersionStatus.SUPERSEDED
    assert (await db.read(queries.agent_version, name, v2)).status == VersionStatus.LIVE
    assert await db.read(queries.live_version, name) == 2
    assert [(w.version, w.weight_pct) for w in await db.read(queries.traffic, name)] == [(2, 100.0)]
    assert "lifecycle.superseded" in await _audit_actions(db, name, v1)


async def _superseded(client, name, version):
    st = await control.lifecycle_status(client, name, version)
    return st if st.status == VersionStatus.SUPERSEDED else None


async def _failure(client, name: str, version: int) -> str:
    with pytest.raises(WorkflowFailureError) as exc:
        await client.get_workflow_handle(lifecycle_workflow_id(name, version)).result()
    return str(exc.value.cause)


async def test_malformed_spec_fails_naming_the_field(worker, db):
    name, version = await submit(worker, db, counting_spec(data_classification="top-secret", description="short"))
    message = await _failure(worker, name, version)
    assert "data_classification" in message and "description" in message
    av = await db.read(queries.agent_version, name, version)
    assert av.status == VersionStatus.FAILED and "data_classification" in av.status_detail
    assert "lifecycle.validate.failed" in await _audit_actions(db, name)


async def test_unknown_deployment_strategy_fails_validation_naming_the_known_ones(worker, db):
    """Before: the spec passed, and DeploymentWorkflow failed its task forever at ``deploy``."""
    name, version = await submit(worker, db, counting_spec(deployment={"strategy": "BlueGreenPlease"}))
    message = await _failure(worker, name, version)
    assert "deployment.strategy" in message and "BlueGreenPlease" in message
    assert "AllAtOnce" in message and "Canary10Percent5Minutes" in message
    st = await control.lifecycle_status(worker, name, version)
    assert (st.step, st.status) == (LifecycleStep.VALIDATE, VersionStatus.FAILED)


async def test_invalid_strategy_inside_the_deployment_workflow_ends_it_instead_of_retrying(worker, db):
    """A deployment started with a bad strategy (not through a spec) fails with an ApplicationError."""
    from shipway.settings import CONTROL_TASK_QUEUE
    from workflows.types import DEPLOYMENT_WORKFLOW, DeploymentInput

    handle = await worker.start_workflow(DEPLOYMENT_WORKFLOW, DeploymentInput(name="nobody", version=1, strategy="Nope"),
                                         id=f"deploy:test-{asyncio.get_running_loop().time()}", task_queue=CONTROL_TASK_QUEUE)
    with pytest.raises(WorkflowFailureError) as exc:
        await asyncio.wait_for(handle.result(), timeout=30)
    assert exc.value.cause.type == "InvalidDeployment" and "Nope" in str(exc.value.cause)


async def test_failing_generated_tests_stop_the_lifecycle_at_scaffold(worker, db):
    name, version = await submit(worker, db, counting_spec(config={"fail_generated_tests": True}))
    message = await _failure(worker, name, version)
    assert "tests failed" in message and "test_configured_to_fail" in message
    st = await control.lifecycle_status(worker, name, version)
    assert (st.step, st.status) == (LifecycleStep.SCAFFOLD, VersionStatus.FAILED)
    assert (await db.read(queries.agent_version, name, version)).artifact_sha256 is None


async def test_unknown_template_is_a_spec_error(worker, db):
    name, version = await submit(worker, db, counting_spec(template="no_such_agent"))
    assert "template" in await _failure(worker, name, version)


async def test_pii_in_spec_is_rejected_with_entity_and_position(worker, db):
    description = "Scores loans. Escalations go to the card 4111 1111 1111 1111 on file."
    prompt = "You help analysts. Example customer SSN 536-22-1937."
    name, version = await submit(worker, db, counting_spec(description=description, system_prompt=prompt))
    message = await _failure(worker, name, version)
    start = description.index("4111")
    assert f"CREDIT_CARD in description at {start}-{start + 19}" in message
    assert "US_SSN in system_prompt" in message
    st = await control.lifecycle_status(worker, name, version)
    assert (st.step, st.status) == (LifecycleStep.GUARD, VersionStatus.FAILED)


async def test_submit_without_valid_name_is_refused_before_starting(worker, db):
    with pytest.raises(SpecError, match="name"):
        await control.submit_agent(worker, db, {"owner": OWNER}, submitted_by=OWNER)


async def test_concurrent_submissions_of_one_agent_get_distinct_versions(worker, db):
    spec = counting_spec()
    results = await asyncio.gather(*(control.submit_agent(worker, db, spec, submitted_by=OWNER) for _ in range(3)))
    assert sorted(v for _, v, _ in results) == [1, 2, 3]
    for _, version, _ in results:
        await wait_for_step(worker, spec["name"], version, LifecycleStep.APPROVAL)
        await control.decide(worker, spec["name"], version, ApprovalKind.REJECT, APPROVER, "cleanup")
