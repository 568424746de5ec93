"""The DAG -> code mapping jobs API on a real gateway, worker, Temporal and PostgreSQL: a job maps
a real TPC-H plan into ibis's TPC code, waits for a person on its low-confidence nodes, resumes
through the run resume and stores one ``code_mappings`` row per node; bad jobs get a 4xx naming the
problem and start nothing; jobs are tenant- and key-scoped."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path

import pytest
import pytest_asyncio
import yaml

from reference_agents.dag_mapping import AGENT
from reference_agents.dag_mapping.demo import accuracy, resume_value, sample_inputs, tpc_repository
from shipway import queries
from tests.support.checkpoints import retire_checkpoint_key
from tests.support.gateways import REPO, gateway_processes
from tests.support.keys import bearer, make_key
from tests.support.lifecycle import deploy, shared_counting

pytestmark = pytest.mark.asyncio(loop_scope="session")


_DEPLOYED: dict[str, tuple[str, Path]] = {}


@pytest_asyncio.fixture(loop_scope="session")
async def mapping_agent(worker, db, tmp_path_factory):
    """A live mapping agent whose spec lets it read ibis's TPC code and one scratch directory,
    deployed once for this module's tests (a lifecycle runs the generated tests: ~15 s)."""
    if db.url not in _DEPLOYED:
        scratch = tmp_path_factory.mktemp("repos")
        spec = yaml.safe_load(AGENT.spec_path.read_text())
        spec.update(name=f"dag-map-{uuid.uuid4().hex[:6]}",
                    config={"repository_roots": [str(tpc_repository()), str(scratch)]})
        name, _ = await deploy(worker, db, spec)
        _DEPLOYED[db.url] = (name, scratch)
    return _DEPLOYED[db.url]


async def _settled(gateway, job_id: str, timeout_s: float = 180) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        r = await gateway.get(f"/v1/jobs/{job_id}")
        assert r.status_code == 200, r.text
        job = r.json()
        if job["status"] != "running":
            return job
        assert asyncio.get_running_loop().time() < deadline, job
        await asyncio.sleep(0.25)


async def test_a_job_maps_a_tpch_plan_waits_for_review_and_stores_its_code_mappings(gateway, db, mapping_agent):
    name, _ = mapping_agent
    job_input = sample_inputs(1)[0]  # TPC-H Q3: its optimiser-made nodes go to a person
    r = await gateway.post("/v1/map-to-code", json={**job_input, "agent": name, "max_parallel_nodes": 3})
    assert r.status_code == 202, r.text
    accepted = r.json()
    assert accepted["agent"] == name and accepted["analysis_id"] == "tpch-q03" and accepted["status"] == "running"
    assert accepted["job_url"] == f"/v1/jobs/{accepted['job_id']}" and accepted["workflow_url"].endswith(f"/workflows/run%3A{accepted['job_id']}")

    job = await _settled(gateway, accepted["job_id"])
    assert job["status"] == "pending_review" and job["decision"] is None
    assert job["progress"]["nodes_done"] == job["progress"]["nodes_total"] > 5
    assert job["pending_reviews"] and all(n["confidence"] < 0.5 for n in job["pending_reviews"])
    assert job["resume_url"] == f"/v1/runs/{job['job_id']}/resume"
    assert await db.read(queries.code_mappings, job["job_id"]) == []  # nothing stored before the job ends
    # its checkpoints under a key this gateway lacks: a 409 naming the key, not a 500
    run = (await gateway.get(f"/v1/runs/{job['job_id']}")).json()
    await retire_checkpoint_key(db, run["thread_id"])
    r = await gateway.get(f"/v1/jobs/{job['job_id']}")
    assert r.status_code == 409 and "which is not configured" in r.json()["detail"], r.text
    await retire_checkpoint_key(db, run["thread_id"], retired=False)

    request = run["interrupt"]
    r = await gateway.post(job["resume_url"] + "?wait=true", json={"value": resume_value(request, job_input)})
    assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text

    job = (await gateway.get(f"/v1/jobs/{job['job_id']}")).json()
    assert job["status"] == "succeeded" and job["decision"] == "mapped_with_review" and job["pending_reviews"] == []
    assert "HUMAN_REVIEWED" in job["reasons"] and job["cost_usd"] == 0.0 and not job["cost_capped"]
    rows = await db.read(queries.code_mappings, job["job_id"])
    assert len(rows) == len(job["mappings"]) == job["progress"]["nodes_total"]
    assert [m["node_id"] for m in job["mappings"]] == [r.node_id for r in rows]
    assert {r.analysis_id for r in rows} == {"tpch-q03"} and {r.tenant for r in rows} == {"default"}
    ids = {r.node_id for r in rows}
    assert all(set(r.children) <= ids for r in rows) and rows[0].position == 0
    assert {r.band for r in rows} >= {"accept", "rejected"} and all(r.reviewed_by for r in rows if r.band == "rejected")
    score = accuracy([job])  # the API's mappings against the ground truth of TPC-H Q3
    assert score["nodes"] >= 5 and score["line"] >= 0.8, score


async def test_bad_jobs_get_a_4xx_naming_the_problem_and_start_nothing(gateway, db, mapping_agent, tmp_path):
    name, scratch = mapping_agent
    good = {**sample_inputs(1)[0], "agent": name}
    before = len(await db.read(queries.mapping_jobs, "dag_mapping", limit=100_000))

    async def problem(status: int, **change) -> str:
        body = {k: v for k, v in {**good, **change}.items() if v is not None}
        # JSON with \u escapes, as a hostile client sends it: httpx's own encoder refuses lone surrogates
        r = await gateway.post("/v1/map-to-code", content=json.dumps(body), headers={"Content-Type": "application/json"})
        assert r.status_code == status, r.text
        return r.text

    assert "unknown plan format 'oracle_xml'; known formats: duckdb_json, spark_text" in await problem(422, plan_format="oracle_xml")
    assert "plan: duckdb_json: not JSON" in await problem(422, plan="{not json")
    assert "DAG has no nodes" in await problem(422, plan=[])
    assert "the plan has no nodes" in await problem(422, plan=None, dag_nodes=[])
    assert f"repository not found: {scratch / 'absent'}" in await problem(422, repository=str(scratch / "absent"))
    # outside the spec's roots: refused before the path is looked at, existing or not
    for outside in ("/etc", "/no/such/dir", str(tmp_path), str(scratch / ".." / "elsewhere")):
        text = await problem(422, repository=outside)
        assert "outside the directories this agent may read" in text and "not found" not in text
    assert '"repository"' in await problem(422, repository="")
    # text no path or PostgreSQL can hold (found by the API fuzzer: a 500 from resolving the path)
    assert "NUL" in await problem(422, repository="\udb0e\udd6d\u0000", analysis_id="\udb0e\udd6d\u0000")
    assert "surrogate" in await problem(422, repository="/tmp/\udb0e")
    assert "extra" in (await problem(422, surprise=1)).lower()
    assert "no live DAG -> code mapping agent named 'no-such-agent'" in await problem(404, agent="no-such-agent")
    assert len(await db.read(queries.mapping_jobs, "dag_mapping", limit=100_000)) == before


async def test_jobs_are_scoped_to_their_tenant_and_key_and_to_mapping_agents(worker, gateway, db, mapping_agent, tmp_path):
    name, _ = mapping_agent
    r = await gateway.post("/v1/map-to-code", json={**sample_inputs(5)[4], "agent": name})  # TPC-H Q6: no review
    assert r.status_code == 202, r.text
    job = await _settled(gateway, r.json()["job_id"])
    assert job["status"] == "succeeded" and job["decision"] == "mapped" and job["resume_url"] is None
    path = f"/v1/jobs/{job['job_id']}"
    other = bearer(await make_key(tenant=f"other-{uuid.uuid4().hex[:6]}"))
    assert (await gateway.get(path, headers=other)).status_code == 404
    caller = bearer(await make_key(role="caller"))
    assert (await gateway.get(path, headers=caller)).status_code == 404  # a caller key sees its own jobs only
    assert (await gateway.get("/v1/jobs/no-such-job")).status_code == 404
    counting = await shared_counting(worker, db)
    run = (await gateway.post(f"/v1/agents/{counting}/runs?wait=true", json={"input": {"log_path": str(tmp_path / "n.log")}})).json()
    r = await gateway.get(f"/v1/jobs/{run['run_id']}")
    assert r.status_code == 404 and "not found" in r.text  # a run of another agent is no job


async def _cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """``shipway job <args>`` in a subprocess (it leaves through os._exit), without blocking the loop
    the in-process workers run on."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "shipway", "job", *args, cwd=REPO,
                                                env={**os.environ, **env}, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 240)
    return proc.returncode, out.decode(), err.decode()


async def test_the_cli_maps_a_plan_file_with_progress_and_shows_the_job(worker, mapping_agent, tmp_path):
    name, _ = mapping_agent
    job_input = sample_inputs(5)[4]  # TPC-H Q6
    plan = tmp_path / "tpch-q06.json"
    plan.write_text(json.dumps(job_input["plan"]))
    async with gateway_processes(1, {}, tmp_path) as [url]:
        env = {"SHIPWAY_GATEWAY_URL": url, "SHIPWAY_API_KEY": await make_key(name="cli")}
        code, out, err = await _cli(env, "map", "--plan", f"@{plan}", "--repository", job_input["repository"],
                                    "--agent", name, "--language", "python")
        assert code == 0, err
        job = json.loads(out)
        assert job["analysis_id"] == "tpch-q06" and job["status"] == "succeeded" and job["decision"] == "mapped"
        assert f"on {name} v1: http" in err and f"succeeded: {job['progress']['nodes_total']}/" in err
        code, out, _ = await _cli(env, "show", job["job_id"])
        assert code == 0 and json.loads(out)["mappings"] == job["mappings"]
        code, out, _ = await _cli(env, "map", "--plan", "{not json", "--repository", job_input["repository"], "--agent", name)
        assert code == 1 and "plan: duckdb_json: not JSON" in out
