"""The whole local stack as a user runs it (``shipway up`` with worker, gateway and console): an agent
goes live, a run stops at an interrupt, the stack goes ``down`` and ``up``, and the same run then
resumes to completion; the agent and the run are still in the catalog."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.ports import restartable_port
from workflows.statuses import VersionStatus
from tests.integration.test_stack import processes_under, shipway, stack_env, stack_record  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration


def _wait_settled(env: dict[str, str], name: str, timeout_s: float = 180) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        st = json.loads(shipway(env, "agent", "status", name, "1").stdout)
        if not VersionStatus(st["status"]).in_progress or time.monotonic() > deadline:
            return st
        time.sleep(0.5)


def test_interrupted_run_survives_down_and_up_and_carries_on(stack_env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    env = dict(stack_env)
    ports = {int(env[k]) for k in ("SHIPWAY_POSTGRES_PORT", "SHIPWAY_TEMPORAL_PORT", "SHIPWAY_TEMPORAL_UI_PORT")}
    for key in ("SHIPWAY_GATEWAY_PORT", "SHIPWAY_CONSOLE_PORT"):
        ports.add(port := restartable_port(avoid=ports))
        env[key] = str(port)
    name = f"restart-{uuid.uuid4().hex[:8]}"
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"name": name, "owner": "olivia.owner@bank.example", "template": "counting_agent:AGENT",
                                    "description": "A three-node test agent that must survive a stack restart."}))
    nodes_log = tmp_path / "nodes.log"
    try:
        out = shipway(env, "up").stdout
        for component in ("postgres", "temporal", "migrations", "worker", "gateway", "console"):
            assert f"[up] {component} ... ok" in out, out
        key_file = Path(env["SHIPWAY_STATE_DIR"]) / "admin.key"
        assert "[up] admin key ... created" in out and key_file.stat().st_mode & 0o777 == 0o600, out
        auth = {"Authorization": f"Bearer {key_file.read_text().strip()}"}
        assert "approval" in shipway(env, "agent", "submit", str(spec), "--follow").stdout
        # the owner's own approval is refused by the workflow, and the CLI says so and exits non-zero
        refused = shipway(env, "agent", "approve", name, "1", "--as", "olivia.owner@bank.example", "--reason", "mine", check=False)
        assert refused.returncode == 1 and "refused" in refused.stderr and "owner" in refused.stderr, refused
        accepted = shipway(env, "agent", "approve", name, "1", "--as", "carol.approver@bank.example", "--reason", "restart test")
        assert "accepted" in accepted.stdout
        assert _wait_settled(env, name)["status"] == "live"

        gateway = stack_record(env)["gateway_url"]
        assert httpx.post(f"{gateway}/v1/agents/{name}/runs", json={"input": {}}, timeout=30).status_code == 401
        r = httpx.post(f"{gateway}/v1/agents/{name}/runs?wait=true", json={"input": {"log_path": str(nodes_log), "ask": True}},
                       headers=auth, timeout=120)
        assert r.status_code == 200 and r.json()["status"] == "interrupted", r.text
        run_id = r.json()["run_id"]

        shipway(env, "down")
        assert not processes_under(env["SHIPWAY_STATE_DIR"])
        assert "[up] admin key ... kept" in shipway(env, "up").stdout
        assert shipway(env, "status").returncode == 0

        gateway = stack_record(env)["gateway_url"]
        assert httpx.get(f"{gateway}/v1/runs/{run_id}", headers=auth, timeout=30).json()["status"] == "interrupted"
        r = httpx.post(f"{gateway}/v1/runs/{run_id}/resume?wait=true", json={"value": {"decision": "yes", "reviewer": "uma"}, "actor": "uma"},
                       headers=auth, timeout=120)
        assert r.status_code == 200, r.text
        run = r.json()
        assert run["status"] == "succeeded" and run["output"]["visited"] == ["a", "b", "c"]
        assert nodes_log.read_text().split() == ["a", "b", "c"]
        assert f"{name}  owner=olivia.owner@bank.example" in shipway(env, "agent", "list").stdout
    finally:
        shipway(env, "down", check=False)
    assert not processes_under(env["SHIPWAY_STATE_DIR"])
