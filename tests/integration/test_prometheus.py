"""A real Prometheus (Debian's ``/usr/bin/prometheus``) on loopback scraping a real gateway process
(with a metrics key), a real ``shipway worker`` process and that worker's Temporal SDK endpoint,
with Shipway's alert rules loaded: a run's counter is read back through Prometheus's HTTP API, the
rules evaluate, and every query of the Grafana dashboard runs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from shipway.stack.ports import free_port
from tests.support.gateways import REPO, gateway_processes
from tests.support.keys import bearer, make_key
from tests.support.lifecycle import deploy_counting
from tests.support.monitoring import ALERTS, TEMPORAL_SDK_METRICS, binary, dashboard_exprs

pytestmark = pytest.mark.asyncio(loop_scope="session")

TIMEOUT_S = 120.0  # generous: three processes and a scrape loop share two cores with other tests


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def _process(argv: list[str], log: Path, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen]:
    """``argv`` running with its output in ``log``; terminated (then killed) on exit."""
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=REPO, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        _stop(proc)


async def _until(what: str, check, proc_logs: dict[subprocess.Popen, Path], timeout_s: float = TIMEOUT_S):
    """Await ``check()`` until it returns something truthy (returned), failing with ``what`` and the
    processes' log tails after ``timeout_s`` or when one of them exits."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        for proc, log in proc_logs.items():
            assert proc.poll() is None, f"{log.name} exited ({proc.returncode}) while waiting for {what}: {log.read_text()[-3000:]}"
        with contextlib.suppress(httpx.TransportError):
            if result := await check():
                return result
        if asyncio.get_running_loop().time() > deadline:
            tails = "\n".join(f"--- {log.name}\n{log.read_text()[-2000:]}" for log in proc_logs.values())
            raise AssertionError(f"timed out waiting for {what}\n{tails}")
        await asyncio.sleep(0.5)


def _prometheus_config(tmp: Path, gateway: str, key: str, worker_port: int, sdk_port: int) -> Path:
    shutil.copy(ALERTS, tmp / "alerts.yml")
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": ["alerts.yml"],
        "scrape_configs": [
            {"job_name": "shipway-gateway", "authorization": {"type": "Bearer", "credentials": key},
             "static_configs": [{"targets": [gateway.removeprefix("http://")]}]},
            {"job_name": "shipway-worker", "static_configs": [{"targets": [f"127.0.0.1:{worker_port}"]}]},
            {"job_name": "shipway-temporal-sdk", "static_configs": [{"targets": [f"127.0.0.1:{sdk_port}"]}]},
        ],
    }
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


async def test_prometheus_scrapes_gateway_and_worker_and_reads_a_run_counter_back(settings_env, temporal_env, tmp_path):
    from shipway.db.engine import Database

    worker_port, sdk_port, prom_port = free_port(), free_port(), free_port()
    worker_log, prom_log = tmp_path / "worker.log", tmp_path / "prometheus.log"
    worker_env = {"SHIPWAY_WORKER_METRICS_PORT": str(worker_port), "SHIPWAY_TEMPORAL_METRICS_PORT": str(sdk_port)}
    shipway = str(Path(sys.prefix) / "bin" / "shipway")
    metrics_key = await make_key(role="viewer")
    (tmp_path / "tsdb").mkdir()

    with _process([shipway, "worker"], worker_log, worker_env) as worker:
        async with gateway_processes(1, {}, tmp_path) as [gateway], httpx.AsyncClient(timeout=10) as http:
            config = _prometheus_config(tmp_path, gateway, metrics_key, worker_port, sdk_port)
            with _process([binary("prometheus"), f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                           f"--web.listen-address=127.0.0.1:{prom_port}"], prom_log) as prom:
                procs = {worker: worker_log, prom: prom_log}
                prometheus = f"http://127.0.0.1:{prom_port}"

                async def query(expr: str) -> dict:
                    r = await http.get(f"{prometheus}/api/v1/query", params={"query": expr})
                    body = r.json()
                    assert r.status_code == 200 and body["status"] == "success", f"{expr}: {r.text}"
                    return body["data"]

                async def worker_serves() -> bool:
                    return (await http.get(f"http://127.0.0.1:{worker_port}/metrics")).status_code == 200

                await _until("the worker's metrics endpoint", worker_serves, procs)
                await _until("Prometheus to be ready", lambda: _ok(http, f"{prometheus}/-/ready"), procs)

                # a run through the real gateway, executed by the real worker process
                async with Database.from_settings(pool_size=2) as db:
                    name = await deploy_counting(temporal_env.client, db)
                r = await http.post(f"{gateway}/v1/agents/{name}/runs?wait=true", json={"input": {"log_path": str(tmp_path / "n")}},
                                    headers=bearer(await make_key()), timeout=60)
                assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text

                async def run_counter() -> list:
                    return (await query(f'shipway_runs_finished_total{{agent="{name}",status="succeeded"}}'))["result"]

                [series] = await _until("the run counter in Prometheus", run_counter, procs)
                assert series["metric"]["job"] == "shipway-worker" and series["metric"]["version"] == "1"
                assert float(series["value"][1]) == 1

                async def started_counter() -> list:
                    return (await query(f'shipway_runs_started_total{{agent="{name}"}}'))["result"]

                [started] = await _until("the gateway's run counter in Prometheus", started_counter, procs)
                assert started["metric"]["job"] == "shipway-gateway" and float(started["value"][1]) == 1

                # every target is up (the gateway's with its key), and the SDK's metrics the dashboard reads are there
                targets = {s["metric"]["job"]: s["value"][1] for s in (await query('up{job=~"shipway-.*"}'))["result"]}
                assert targets == {"shipway-gateway": "1", "shipway-worker": "1", "shipway-temporal-sdk": "1"}

                async def sdk_names() -> bool:
                    names = set((await http.get(f"{prometheus}/api/v1/label/__name__/values")).json()["data"])
                    return TEMPORAL_SDK_METRICS <= names

                await _until(f"the Temporal SDK's metrics {sorted(TEMPORAL_SDK_METRICS)}", sdk_names, procs)

                # the alert rules loaded and evaluate without error
                async def rules_evaluated() -> list:
                    groups = (await http.get(f"{prometheus}/api/v1/rules")).json()["data"]["groups"]
                    rules = [rule for g in groups for rule in g["rules"]]
                    return rules if rules and all(rule.get("lastEvaluation", "").startswith("20") for rule in rules) else []

                rules = await _until("the alert rules to evaluate", rules_evaluated, procs)
                assert {rule["name"] for rule in rules} == {a["alert"] for g in yaml.safe_load(ALERTS.read_text())["groups"]
                                                           for a in g["rules"]}
                assert all(rule["health"] == "ok" for rule in rules), [(r["name"], r.get("lastError")) for r in rules]

                # every dashboard query runs; the pools come from the process that owns each
                for expr in dashboard_exprs().values():
                    await query(expr)
                pools = await query("sum by (job, pool) (shipway_db_pool_max_connections)")
                assert {(s["metric"]["job"], s["metric"]["pool"]) for s in pools["result"]} == {
                    ("shipway-gateway", "gateway"), ("shipway-worker", "worker"), ("shipway-worker", "checkpointer"),
                    ("shipway-worker", "step_locks")}


async def _ok(http: httpx.AsyncClient, url: str) -> bool:
    return (await http.get(url)).status_code == 200
