"""The Approvals page against Shipway's real lifecycle workflow and worker: the owner's own
approval is refused by the workflow and shown as such; another operator's approval takes the
version live."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import pytest_asyncio
from streamlit.testing.v1 import AppTest

from shipway import control
from shipway.db.engine import async_engine
from tests.support.workers import running_workers
from tests.console.conftest import APP, APP_TIMEOUT_S
from workflows.types import LifecycleStatus

pytestmark = pytest.mark.asyncio(loop_scope="session")

OWNER = "olivia.owner@bank.example"
APPROVER = "carol.approver@bank.example"


@pytest_asyncio.fixture(loop_scope="session")
async def shipway_worker(console_env, temporal_env):
    """Shipway's real workers (both task queues) in this process, on the console's database."""
    async with running_workers(temporal_env.client) as client:
        yield client


async def _run(at: AppTest) -> AppTest:
    await asyncio.to_thread(at.run)
    assert not at.exception, [e.value for e in at.exception]
    return at


async def _wait_for_status(name: str, version: int, status: str, timeout_s: float = 240) -> None:
    from console import data

    deadline = asyncio.get_running_loop().time() + timeout_s
    while (current := await asyncio.to_thread(data.version_status, name, version)) != status:
        assert current not in ("failed", "rejected"), f"{name} v{version} ended {current}"
        assert asyncio.get_running_loop().time() < deadline, f"{name} v{version} stayed {current}"
        await asyncio.sleep(0.3)


async def test_owner_is_refused_and_another_operator_approves_through_the_console(shipway_worker):
    client = shipway_worker
    spec = {
        "name": f"counting-{uuid.uuid4().hex[:8]}",
        "owner": OWNER,
        "description": "A three-node test agent for the console's approval round trip.",
        "template": "counting_agent:AGENT",
        "data_classification": "internal",
    }
    name, version, wf_id = await control.submit_agent(client, async_engine(), spec, submitted_by=OWNER)
    await _wait_for_status(name, version, "awaiting_approval")
    key = f"{name}:{version}"

    at = AppTest.from_file(str(APP), default_timeout=APP_TIMEOUT_S)
    await _run(at)
    at.sidebar.text_input(key="operator_name").input(OWNER)
    await _run(at)
    at.switch_page("views/approvals.py")
    await _run(at)
    at.text_area(key=f"reason:{key}").input("I built it and tested it")
    at.button(key=f"approve:{key}").click()
    await _run(at)
    refusal = "\n".join(e.value for e in at.error)
    assert f"refused {OWNER}'s approve" in refusal and "owner" in refusal.split(":", 1)[1]
    assert any(OWNER in w.value for w in at.warning)  # the refused attempt stays listed

    at.session_state["acting_as"] = APPROVER
    await _run(at)
    at.text_area(key=f"reason:{key}").input("model risk review MRM-112 passed")
    at.button(key=f"approve:{key}").click()
    await _run(at)
    assert not at.error
    assert any(APPROVER in s.value for s in at.success)

    result = await client.get_workflow_handle(wf_id, result_type=LifecycleStatus).result()
    assert (result.state, result.approver) == ("live", APPROVER)


async def test_interrupted_run_shows_worker_checkpoints_and_resumes_from_the_console(shipway_worker, tmp_path):
    client = shipway_worker
    spec = {
        "name": f"counting-{uuid.uuid4().hex[:8]}",
        "owner": OWNER,
        "description": "A three-node test agent for the console's resume round trip.",
        "template": "counting_agent:AGENT",
        "data_classification": "internal",
    }
    name, version, wf_id = await control.submit_agent(client, async_engine(), spec, submitted_by=OWNER)
    await _wait_for_status(name, version, "awaiting_approval")
    await control.approve(client, name, version, APPROVER, "test agent")
    await client.get_workflow_handle(wf_id).result()
    log = tmp_path / "visits.log"
    run_id, handle = await control.start_run(client, async_engine(), name, {"log_path": str(log), "ask": True})
    deadline = asyncio.get_running_loop().time() + 120
    while (await handle.query("state")).get("status") != "interrupted":
        assert asyncio.get_running_loop().time() < deadline, "run never interrupted"
        await asyncio.sleep(0.2)

    at = AppTest.from_file(str(APP), default_timeout=APP_TIMEOUT_S)
    await _run(at)
    at.sidebar.text_input(key="operator_name").input("uma.underwriter@bank.example")
    await _run(at)
    at.switch_page("views/runs.py")
    at.query_params["run"] = run_id
    await _run(at)
    assert at.selectbox(key="run_pick").value == run_id
    history = at.dataframe[1].value  # written by the worker's AsyncPostgresSaver
    assert history["next"].iloc[0] == "b" and "__interrupt__" in history["writes"].iloc[0]
    at.text_area(key=f"resume_value:{run_id}").input('{"answer": "yes"}')
    at.button(key=f"resume:{run_id}").click()
    await _run(at)
    assert not at.error
    assert any("resumed by uma.underwriter@bank.example" in s.value for s in at.success)

    result = await handle.result()
    assert result["status"] == "succeeded" and result["output"]["answer"] == {"answer": "yes"}
    assert log.read_text().split() == ["a", "b", "c"]  # b ran to completion once, after the resume
