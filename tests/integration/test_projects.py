"""Bring your own LangGraph project, and run exactly the artifact that was approved: a project
through the whole lifecycle and the gateway; an artifact tampered with after approval; two versions
with module-level state side by side in one worker; requirements the worker lacks; the diff."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import psycopg
import pytest
from temporalio.client import WorkflowFailureError

from activities.artifact_format import manifest_of
from activities.artifact_store import store_from_settings
from shipway import control, queries
from shipway.projects import project_spec, upload_project
from shipway.settings import get_settings
from tests.support.lifecycle import APPROVER, deploy, submit
from tests.support.projects import write_project
from workflows.statuses import ApprovalKind, RunStatus, VersionStatus
from workflows.types import lifecycle_workflow_id, run_workflow_id

pytestmark = pytest.mark.asyncio(loop_scope="session")



def _spec(folder, **kwargs) -> dict:
    governance = write_project(folder, **kwargs)
    sha, project = upload_project(store_from_settings(get_settings()), folder)
    spec = project_spec(project, sha)
    assert spec["name"] == governance["name"] and project.graph == "loan_agent/graph.py:graph"
    return spec


async def test_a_langgraph_project_goes_through_the_lifecycle_and_serves_runs(worker, db, gateway, tmp_path):
    name, version = await deploy(worker, db, _spec(tmp_path / "project"))
    av = await db.read(queries.agent_version, name, version)
    manifest = manifest_of(store_from_settings(get_settings()).get(av.artifact_sha256))
    assert (manifest.source, manifest.graph, manifest.python_paths) == ("langgraph", "loan_agent/graph.py:graph", ["."])
    assert manifest.tests.summary == "1 passed" and manifest.env == {"LOAN_AGENT_MODE": "test"}
    assert set(manifest.files) == {"langgraph.json", "shipway.yaml", "loan_agent/__init__.py", "loan_agent/graph.py",
                                   "loan_agent/state.py", "tests/test_graph.py"}
    assert manifest.input_schema["properties"]["purpose"]["enum"] == ["car", "education", "furniture"]

    bad = await gateway.post(f"/v1/agents/{name}/runs", json={"input": {"amount": -5, "purpose": "boat"}})
    assert bad.status_code == 422
    assert {tuple(d["loc"]) for d in bad.json()["detail"]} == {("body", "input", "amount"), ("body", "input", "purpose")}

    r = await gateway.post(f"/v1/agents/{name}/runs?wait=true", json={
        "input": {"amount": 200, "purpose": "car"}, "context": {"branch": "Mainz"},
        "config": {"configurable": {"channel": "web", "thread_id": "not-the-callers"}}})
    assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
    out = r.json()["output"]
    assert out["decision"] == "approve" and out["label"] == "one"
    assert (out["branch"], out["channel"]) == ("Mainz", "web"), "runtime context and config did not reach the graph"
    assert r.json()["thread_id"] == r.json()["run_id"]

    r = await gateway.post(f"/v1/agents/{name}/runs?wait=true", json={"input": {"amount": 5000, "purpose": "education"}})
    run = r.json()
    assert run["status"] == "interrupted" and run["interrupt"]["kind"] == "large_loan"
    refused = await gateway.post(f"/v1/runs/{run['run_id']}/resume", json={"value": {"decision": "maybe", "reviewer": "uma"}})
    assert refused.status_code == 422
    r = await gateway.post(f"/v1/runs/{run['run_id']}/resume?wait=true", json={"value": {"decision": "decline", "reviewer": "uma"}})
    done = r.json()
    assert done["status"] == "succeeded" and done["output"]["decision"] == "decline" and done["output"]["reviewer"] == "uma"
    assert (await db.read(queries.run, run["run_id"])).artifact_sha256 == av.artifact_sha256
    agent = (await gateway.get(f"/v1/agents/{name}")).json()
    assert agent["input_schema"]["required"] == ["amount", "purpose"]


async def test_an_artifact_tampered_with_after_approval_is_refused_at_run_time(worker, db, tmp_path):
    spec = _spec(tmp_path / "project")
    name, version = await deploy(worker, db, spec)
    sha = (await db.read(queries.agent_version, name, version)).artifact_sha256
    store = store_from_settings(get_settings())
    original = store.get(sha)
    forged = original.replace(b"loan", b"l0an", 1) if b"loan" in original else original + b"\0"
    with psycopg.connect(get_settings().resolved_database_url(), autocommit=True) as conn:
        conn.execute("UPDATE artifacts SET data = %s WHERE sha256 = %s", (forged, sha))
    log = tmp_path / "nodes.log"
    run_id, result = await control.start_run(worker, name, version, {"amount": 10, "purpose": "car", "log_path": str(log)},
                                             wait=True)
    assert result.status == RunStatus.FAILED and "refused" in result.error and sha in result.error
    assert not log.exists(), "code of a tampered artifact ran"
    [event] = await db.read(queries.audit_events, f"run:{run_id}", "artifact.integrity_failed")
    assert event.detail["agent"] == name and event.detail["version"] == version
    with pytest.raises(WorkflowFailureError):
        await worker.get_workflow_handle(run_workflow_id(run_id)).result()
    with psycopg.connect(get_settings().resolved_database_url(), autocommit=True) as conn:
        conn.execute("UPDATE artifacts SET data = %s WHERE sha256 = %s", (original, sha))


async def test_two_versions_with_module_state_run_side_by_side_in_one_worker(worker, db, tmp_path):
    spec_one = _spec(tmp_path / "one", label="one")
    name, v1 = await deploy(worker, db, spec_one)
    spec_two = _spec(tmp_path / "two", label="two", name=name)
    _, v2 = await deploy(worker, db, spec_two)
    assert (v1, v2) == (1, 2)
    outputs = []
    for version in (v1, v2, v1, v2, v1):
        _, result = await control.start_run(worker, name, version, {"amount": 10, "purpose": "car"}, wait=True)
        assert result.status == RunStatus.SUCCEEDED, result
        outputs.append((version, result.output["label"], result.output["run_number"]))
    # each version counts its own runs: no module is shared between the two artifacts
    assert outputs == [(1, "one", 1), (2, "two", 1), (1, "one", 2), (2, "two", 2), (1, "one", 3)]


async def test_a_project_needing_a_package_the_worker_lacks_is_refused_at_scaffold(worker, db, tmp_path):
    spec = _spec(tmp_path / "project", dependencies=[".", "shipway-no-such-package>=1.0", "pandas>=999"])
    name, version = await submit(worker, db, spec)
    with pytest.raises(WorkflowFailureError) as exc:
        await worker.get_workflow_handle(lifecycle_workflow_id(name, version)).result()
    message = str(exc.value.cause)
    assert "shipway-no-such-package>=1.0: not installed" in message and "pandas>=999:" in message
    st = await control.lifecycle_status(worker, name, version)
    assert (st.step, st.status) == ("scaffold", VersionStatus.FAILED)


async def test_a_project_whose_own_tests_fail_is_refused_at_scaffold(worker, db, tmp_path):
    name, version = await submit(worker, db, _spec(tmp_path / "project", failing_test=True))
    with pytest.raises(WorkflowFailureError) as exc:
        await worker.get_workflow_handle(lifecycle_workflow_id(name, version)).result()
    assert "test_fails" in str(exc.value.cause) and "on purpose" in str(exc.value.cause)


async def test_diff_shows_the_spec_and_the_files_that_changed(worker, db, tmp_path, settings_env):
    spec_one = _spec(tmp_path / "one", label="one")
    name, _ = await deploy(worker, db, spec_one)
    spec_two = _spec(tmp_path / "two", label="two", name=name)
    spec_two["description"] = "A two-node loan graph written by the tests, second edition."
    name, version = await submit(worker, db, spec_two)
    await asyncio.wait_for(_until_awaiting(worker, name, version), 120)
    out = subprocess.run([sys.executable, "-m", "shipway", "agent", "diff", name, "1", "2"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "-LABEL = 'one'" in out.stdout and "+LABEL = 'two'" in out.stdout
    assert "changed  loan_agent/state.py" in out.stdout and "second edition" in out.stdout
    assert "loan_agent/graph.py" not in out.stdout
    await control.decide(worker, name, version, ApprovalKind.REJECT, APPROVER, "cleanup")


async def _until_awaiting(client, name, version):
    while (await control.lifecycle_status(client, name, version)).status != VersionStatus.AWAITING_APPROVAL:
        await asyncio.sleep(0.2)


async def test_submit_refuses_a_broken_project_naming_the_field(tmp_path, settings_env):
    folder = tmp_path / "project"
    write_project(folder)
    (folder / "langgraph.json").write_text('{"dependencies": ["."], "graphs": {"a": "./nope.py:graph", "b": "x"}}')
    out = subprocess.run([sys.executable, "-m", "shipway", "agent", "submit", str(folder), "--graph", "a"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "invalid project" in out.stderr and "'./nope.py' does not exist" in out.stderr
