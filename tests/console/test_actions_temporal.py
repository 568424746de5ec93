"""Console buttons call through to Temporal: approve/reject signals and the resume update reach a
workflow with the acting operator's name.

The workflows here are recording doubles registered under the real workflow names and ids, so the
console's path (page -> ``console.actions`` -> ``shipway.control`` -> Temporal) is checked exactly,
independently of what the lifecycle and run workflows do next.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
import pytest_asyncio
from streamlit.testing.v1 import AppTest
from temporalio import workflow
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from shipway.db.models import Agent, AgentVersion, Run
from tests.console.conftest import APP, APP_TIMEOUT_S
from workflows.types import (
    SIGNAL_APPROVE,
    SIGNAL_REJECT,
    UPDATE_RESUME_RUN,
    ApprovalDecision,
    ResumeRequest,
    lifecycle_workflow_id,
    run_workflow_id,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


@workflow.defn(name="AgentLifecycleWorkflow")
class RecordingLifecycle:
    """Completes with the first decision signalled to it: ``[decision, approver, reason]``."""

    def __init__(self) -> None:
        self.decisions: list[list[str]] = []

    @workflow.run
    async def run(self, _inp: dict) -> list[str]:
        await workflow.wait_condition(lambda: bool(self.decisions))
        return self.decisions[0]

    @workflow.signal(name=SIGNAL_APPROVE)
    def approve(self, d: ApprovalDecision) -> None:
        self.decisions.append(["approve", d.approver, d.reason])

    @workflow.signal(name=SIGNAL_REJECT)
    def reject(self, d: ApprovalDecision) -> None:
        self.decisions.append(["reject", d.approver, d.reason])


@workflow.defn(name="AgentRunWorkflow")
class RecordingRun:
    """Waits for one ``resume_run`` update and completes with ``[actor, value]``; refuses an empty value."""

    def __init__(self) -> None:
        self.answer: ResumeRequest | None = None

    @workflow.run
    async def run(self, _inp: dict) -> list:
        await workflow.wait_condition(lambda: self.answer is not None)
        return [self.answer.actor, self.answer.value]

    @workflow.update(name=UPDATE_RESUME_RUN)
    async def resume_run(self, req: ResumeRequest) -> dict:
        self.answer = req
        return {"accepted": True}

    @resume_run.validator
    def _validate(self, req: ResumeRequest) -> None:
        if not req.value:
            raise ValueError("resume value must be a non-empty JSON object")


@pytest_asyncio.fixture(loop_scope="session")
async def doubles(console_env, temporal_env):
    """A worker for the recording workflows on its own task queue; yields ``(client, task_queue)``."""
    queue = f"console-test-{uuid.uuid4().hex[:8]}"
    async with Worker(temporal_env.client, task_queue=queue, workflows=[RecordingLifecycle, RecordingRun],
                      workflow_runner=UnsandboxedWorkflowRunner()):
        yield temporal_env.client, queue


async def _run(at: AppTest) -> AppTest:
    """Run the app off the event loop, so the worker keeps serving Temporal meanwhile."""
    await asyncio.to_thread(at.run)
    assert not at.exception, [e.value for e in at.exception]
    return at


async def _open(page: str, operator: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=APP_TIMEOUT_S)
    await _run(at)
    at.sidebar.text_input(key="operator_name").input(operator)
    await _run(at)
    at.switch_page(page)
    return await _run(at)


@pytest.mark.parametrize("decision", ["approve", "reject"])
async def test_decision_buttons_signal_the_lifecycle_as_the_operator(doubles, seed, decision):
    client, queue = doubles
    name = f"loan-triage-{uuid.uuid4().hex[:6]}"
    wf_id = lifecycle_workflow_id(name, 1)
    seed(Agent(name=name, owner="olivia.owner@bank.example", template="credit_underwriting"))
    seed(AgentVersion(agent_name=name, version=1, status="awaiting_approval", workflow_id=wf_id,
                      spec={"owner": "olivia.owner@bank.example", "template": "credit_underwriting",
                            "description": "Triage of small-business loan applications."}))
    handle = await client.start_workflow("AgentLifecycleWorkflow", {}, id=wf_id, task_queue=queue)

    at = await _open("views/approvals.py", "bob.approver@bank.example")
    assert "You act as **bob.approver@bank.example**" in "\n".join(c.value for c in at.caption)
    at.text_area(key=f"reason:{name}:1").input("model risk review MRM-112 passed")
    at.button(key=f"{decision}:{name}:1").click()
    await _run(at)

    assert await handle.result() == [decision, "bob.approver@bank.example", "model risk review MRM-112 passed"]
    # The double records nothing in the catalog, so the page reports the signal as sent and pending.
    assert any("Signal sent to " + wf_id in i.value for i in at.info)


async def test_resume_form_sends_the_update_and_shows_the_acknowledgement(doubles, seed):
    client, queue = doubles
    run_id = str(uuid.uuid4())
    seed(Run(id=run_id, agent_name="credit-underwriting", version=1, thread_id=run_id, status="interrupted",
             workflow_id=run_workflow_id(run_id), input={"loan_amnt": 48000},
             interrupt={"question": "Approve or decline?", "allowed_decisions": ["approve", "decline"],
                        "resume_format": {"decision": "approve|decline", "underwriter": "<underwriter id>", "note": "<text>"}}))
    handle = await client.start_workflow("AgentRunWorkflow", {}, id=run_workflow_id(run_id), task_queue=queue)

    at = await _open("views/runs.py", "uma.underwriter@bank.example")
    editor = at.text_area(key=f"resume_value:{run_id}")
    editor.input('{"decision": "decline", "underwriter": "uma", "note": "DTI above 45%"}')
    at.button(key=f"resume:{run_id}").click()
    await _run(at)

    actor, value = await handle.result()
    assert actor == "uma.underwriter@bank.example"
    assert value == {"decision": "decline", "underwriter": "uma", "note": "DTI above 45%"}
    assert any(f"Run {run_id} resumed by uma.underwriter@bank.example" in s.value for s in at.success)


async def test_resume_refused_by_the_workflow_is_shown(doubles, seed):
    client, queue = doubles
    run_id = str(uuid.uuid4())
    seed(Run(id=run_id, agent_name="credit-underwriting", version=1, thread_id=run_id, status="interrupted",
             workflow_id=run_workflow_id(run_id), interrupt={"question": "What amount?"}))
    handle = await client.start_workflow("AgentRunWorkflow", {}, id=run_workflow_id(run_id), task_queue=queue)

    at = await _open("views/runs.py", "uma.underwriter@bank.example")
    assert at.text_area(key=f"resume_value:{run_id}").value == "{}"
    at.button(key=f"resume:{run_id}").click()
    await _run(at)

    assert any("non-empty JSON object" in e.value for e in at.error)
    await handle.terminate("test over")
