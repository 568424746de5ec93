"""API keys, roles and tenants at the gateway, on a real Temporal server and PostgreSQL: who may
start, read, list and resume which runs; refusals are 401/403/404 and audit events; security
headers and CORS."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import httpx
import psycopg
import pytest
from sqlmodel import Session

from shipway import queries
from shipway.auth.key_store import ensure_local_admin_key, revoke_key
from shipway.db.engine import role_options, sync_engine
from shipway.gateway.app import create_app
from shipway.gateway.errors import ErrorResponse
from shipway.settings import get_settings
from tests.support.keys import bearer, make_key, revoke
from tests.support.lifecycle import deploy_counting

pytestmark = pytest.mark.asyncio(loop_scope="session")
YES = {"decision": "yes", "reviewer": "uma.underwriter", "note": "checked"}


def _error(r: httpx.Response, status: int) -> ErrorResponse:
    assert r.status_code == status, r.text
    return ErrorResponse.model_validate(r.json())


async def _interrupted_run(http: httpx.AsyncClient, name: str, key: str, tmp_path) -> dict:
    r = await http.post(f"/v1/agents/{name}/runs?wait=true", json={"input": {"log_path": str(tmp_path / "l"), "ask": True}},
                        headers=bearer(key))
    assert r.status_code == 200 and r.json()["status"] == "interrupted", r.text
    return r.json()


@pytest.fixture
async def http(worker):
    """The gateway over ASGI, without a default key: each request names its own."""
    app = create_app()
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
            yield client


async def test_a_tenant_can_neither_list_read_nor_resume_another_tenants_runs(worker, db, http, tmp_path):
    name = await deploy_counting(worker, db)
    bank_a, bank_b = await make_key("bank-a", "operator"), await make_key("bank-b", "operator")
    run_b = await _interrupted_run(http, name, bank_b, tmp_path)
    assert run_b["tenant"] == "bank-b"

    # B's run id, guessed or leaked, is a 404 to A, the same answer as an id that does not exist
    assert "not found" in _error(await http.get(f"/v1/runs/{run_b['run_id']}", headers=bearer(bank_a)), 404).error
    resumed = await http.post(f"/v1/runs/{run_b['run_id']}/resume", json={"value": YES}, headers=bearer(bank_a))
    assert "not found" in _error(resumed, 404).error
    listed = await http.get("/v1/runs", params={"agent": name}, headers=bearer(bank_a))
    assert listed.status_code == 200 and listed.json() == []

    # B itself sees, lists and resumes it: the refusal above was the tenant, not the run
    assert [r["run_id"] for r in (await http.get("/v1/runs", params={"agent": name}, headers=bearer(bank_b))).json()] == [run_b["run_id"]]
    done = await http.post(f"/v1/runs/{run_b['run_id']}/resume?wait=true", json={"value": YES}, headers=bearer(bank_b))
    assert done.status_code == 200 and done.json()["status"] == "succeeded", done.text
    assert (await db.read(queries.run, run_b["run_id"])).status == "succeeded"


async def test_a_caller_reads_and_resumes_only_the_runs_its_own_key_started(worker, db, http, tmp_path):
    name = await deploy_counting(worker, db)
    mine, theirs = await make_key("bank-c", "caller", "app one"), await make_key("bank-c", "caller", "app two")
    own = await _interrupted_run(http, name, mine, tmp_path)
    other = await _interrupted_run(http, name, theirs, tmp_path)

    _error(await http.get(f"/v1/runs/{other['run_id']}", headers=bearer(mine)), 404)
    _error(await http.post(f"/v1/runs/{other['run_id']}/resume", json={"value": YES}, headers=bearer(mine)), 404)
    assert [r["run_id"] for r in (await http.get("/v1/runs", params={"agent": name}, headers=bearer(mine))).json()] == [own["run_id"]]
    r = await http.post(f"/v1/runs/{own['run_id']}/resume?wait=true", json={"value": YES}, headers=bearer(mine))
    assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
    # the answer is audited as the key when the body names no actor
    resumed = [e for e in await db.read(queries.audit_events, f"run:{own['run_id']}") if e.action == "run.resumed"]
    assert resumed and resumed[0].actor.startswith("key:") and "app one" in resumed[0].actor

    # a viewer of the tenant reads every run but may not answer one: 403, audited
    viewer = await make_key("bank-c", "viewer", "auditor")
    assert (await http.get(f"/v1/runs/{other['run_id']}", headers=bearer(viewer))).status_code == 200
    refused = _error(await http.post(f"/v1/runs/{other['run_id']}/resume", json={"value": YES}, headers=bearer(viewer)), 403)
    assert "'viewer' may not" in refused.error
    event = (await db.read(queries.audit_events, f"route:POST /v1/runs/{other['run_id']}/resume", "auth.refused"))[-1]
    assert "auditor" in event.actor and event.detail["role"] == "viewer"
    assert (await db.read(queries.run, other["run_id"])).status == "interrupted", "the refused answer reached the run"
    # nor may it start runs
    _error(await http.post(f"/v1/agents/{name}/runs", json={"input": {"log_path": "x"}}, headers=bearer(viewer)), 403)


async def test_missing_malformed_unknown_and_revoked_keys_get_401_and_are_audited(worker, db, http):
    subject = "route:GET /v1/agents"
    before = len(await db.read(queries.audit_events, subject, "auth.failed", limit=100_000))
    missing = await http.get("/v1/agents")
    assert _error(missing, 401).error.startswith("missing API key") and missing.headers["www-authenticate"] == "Bearer"
    assert "malformed" in _error(await http.get("/v1/agents", headers=bearer("not-a-key")), 401).error
    key = await make_key("bank-d", "viewer")
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    assert "unknown" in _error(await http.get("/v1/agents", headers=bearer(forged)), 401).error

    assert (await http.get("/v1/agents", headers=bearer(key))).status_code == 200
    await revoke(key, "sec.officer", "left the company")
    assert "revoked" in _error(await http.get("/v1/agents", headers=bearer(key)), 401).error

    failures = (await db.read(queries.audit_events, subject, "auth.failed", limit=100_000))[before:]
    assert [e.detail["reason"] for e in failures] == ["missing", "malformed", "unknown", "revoked"]
    revoked = await db.read(queries.audit_events, f"key:{key.split('_')[1]}")
    assert [e.action for e in revoked] == ["key.created", "key.revoked"] and revoked[1].actor == "sec.officer"


async def test_healthz_is_open_metrics_need_a_role_that_reads_them(worker, http):
    assert (await http.get("/healthz")).status_code == 200
    _error(await http.get("/metrics"), 401)
    _error(await http.get("/metrics", headers=bearer(await make_key("bank-e", "caller"))), 403)
    assert (await http.get("/metrics", headers=bearer(await make_key("bank-e", "viewer")))).status_code == 200


async def test_metrics_can_be_opened_to_any_scraper(worker, settings_env, monkeypatch):
    monkeypatch.setenv("SHIPWAY_METRICS_REQUIRE_KEY", "false")
    get_settings.cache_clear()
    app = create_app()
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
            assert (await client.get("/metrics")).status_code == 200
            assert (await client.get("/v1/agents")).status_code == 401


async def test_every_answer_carries_security_headers_and_cors_is_off_by_default(worker, http):
    for r in (await http.get("/healthz"), await http.get("/v1/agents"), await http.get("/docs")):
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert (await http.get("/healthz")).headers["content-security-policy"].startswith("default-src 'none'")
    preflight = await http.options("/v1/agents", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in preflight.headers


async def test_cors_allows_only_the_configured_origins(worker, settings_env, monkeypatch):
    monkeypatch.setenv("SHIPWAY_CORS_ORIGINS", '["https://console.bank.example"]')
    get_settings.cache_clear()
    app = create_app()
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
            ok = await client.options("/v1/agents", headers={"Origin": "https://console.bank.example",
                                                             "Access-Control-Request-Method": "GET"})
            other = await client.options("/v1/agents", headers={"Origin": "https://evil.example",
                                                                "Access-Control-Request-Method": "GET"})
    assert ok.headers["access-control-allow-origin"] == "https://console.bank.example"
    assert "access-control-allow-origin" not in other.headers


def _keys_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": get_settings().resolved_database_url()}
    return subprocess.run([sys.executable, "-m", "shipway", "keys", *args], capture_output=True, text=True, timeout=120, env=env)


async def test_keys_cli_creates_a_key_shown_once_lists_it_without_its_secret_and_revokes_it(worker, http):
    created = _keys_cli("create", "--tenant", "bank-f", "--role", "approver", "--name", "carol", "--as", "sec.officer")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    _, prefix, secret = token.split("_", 2)  # the secret is URL-safe base64: it may hold "_"
    assert "not shown again" in created.stderr
    assert (await http.get("/v1/agents", headers=bearer(token))).status_code == 200

    listed = _keys_cli("list", "--tenant", "bank-f")
    assert prefix in listed.stdout and "approver" in listed.stdout and secret not in listed.stdout
    assert _keys_cli("create", "--tenant", "bank-f", "--role", "root").returncode == 2
    revoked = _keys_cli("revoke", prefix, "--reason", "rotated")
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    assert prefix not in _keys_cli("list", "--tenant", "bank-f").stdout
    assert prefix in _keys_cli("list", "--tenant", "bank-f", "--revoked").stdout
    _error(await http.get("/v1/agents", headers=bearer(token)), 401)
    assert _keys_cli("revoke", "000000000000").returncode == 1


async def test_the_local_admin_key_file_is_owner_only_and_kept_while_it_works(settings_env, tmp_path):
    await asyncio.to_thread(_admin_key_file_checks, tmp_path / "state" / "admin.key")


def _admin_key_file_checks(path) -> None:
    with Session(sync_engine(get_settings().resolved_database_url())) as s:
        assert ensure_local_admin_key(s, path) is True
        s.commit()
        first = path.read_text()
        assert path.stat().st_mode & 0o777 == 0o600 and first.startswith("sw_")
        assert ensure_local_admin_key(s, path) is False and path.read_text() == first
        revoke_key(s, first.split("_")[1], "tests")
        s.commit()
        assert ensure_local_admin_key(s, path) is True and path.read_text() != first
        s.commit()
    assert get_settings().resolved_api_key() == path.read_text().strip()


def _as_role(role: str, tenant: str | None, sql: str, *params) -> list[tuple]:
    """Rows of ``sql`` in a transaction of ``role`` (a session default, as the gateway connects)
    with ``shipway.tenant`` set LOCAL to ``tenant`` (unset when None)."""
    with psycopg.connect(get_settings().resolved_database_url(), **role_options(role)) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == role
        if tenant is not None:
            conn.execute("SELECT set_config('shipway.tenant', %s, true)", (tenant,))
        return conn.execute(sql, params).fetchall()


async def test_the_database_itself_keeps_tenants_apart(worker, db, http, tmp_path):
    """Not only the API: the same SQL, run as the gateway's role under tenant A's setting, returns no
    row of tenant B from any table holding B's data; the workers' role sees both through its policy."""
    name = await deploy_counting(worker, db)
    run_b = await _interrupted_run(http, name, await make_key("bank-g", "operator"), tmp_path)
    rid, tid = run_b["run_id"], run_b["thread_id"]
    tables = {"runs": ("SELECT id FROM runs WHERE id = %s", rid), "threads": ("SELECT thread_id FROM threads WHERE thread_id = %s", tid),
              "guard_results": ("SELECT id FROM guard_results WHERE run_id = %s", rid),
              "checkpoints": ("SELECT checkpoint_id FROM checkpoints WHERE thread_id = %s", tid),
              "checkpoint_writes": ("SELECT checkpoint_id FROM checkpoint_writes WHERE thread_id = %s", tid)}
    for table, (sql, param) in tables.items():
        assert _as_role("shipway_app", "bank-g", sql, param), f"{table}: tenant B cannot see its own rows"
        assert _as_role("shipway_app", "bank-h", sql, param) == [], f"{table}: tenant A sees tenant B's rows"
        assert _as_role("shipway_app", None, sql, param) == [], f"{table}: no tenant set, yet rows are visible"
        assert _as_role("shipway_platform", None, sql, param), f"{table}: the workers' role cannot see the row"
    # the gateway's role reads only: it cannot change a run, even its own tenant's
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
        _as_role("shipway_app", "bank-g", "UPDATE runs SET status = 'succeeded' WHERE id = %s", rid)
    for role in ("shipway_app", "shipway_platform"):
        # refused by the missing grant, before the append-only trigger would refuse it
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
            _as_role(role, None, "DELETE FROM audit_events")


async def test_a_private_agent_is_invisible_to_other_tenants_in_the_api_and_in_the_database(worker, db, http, tmp_path):
    name = await deploy_counting(worker, db, tenant="bank-i")
    own, other = await make_key("bank-i", "operator"), await make_key("bank-j", "operator")
    mine = await http.get(f"/v1/agents/{name}", headers=bearer(own))
    assert mine.status_code == 200 and mine.json()["tenant"] == "bank-i" and mine.json()["input_schema"], mine.text
    assert name in [a["name"] for a in (await http.get("/v1/agents", headers=bearer(own))).json()]
    run = await http.post(f"/v1/agents/{name}/runs?wait=true", json={"input": {"log_path": str(tmp_path / "l")}}, headers=bearer(own))
    assert run.status_code == 200 and run.json()["status"] == "succeeded", run.text

    # to another tenant it does not exist: not listed, not readable, not runnable
    _error(await http.get(f"/v1/agents/{name}", headers=bearer(other)), 404)
    assert name not in [a["name"] for a in (await http.get("/v1/agents", headers=bearer(other))).json()]
    _error(await http.post(f"/v1/agents/{name}/runs", json={"input": {"log_path": "x"}}, headers=bearer(other)), 404)
    # a shared agent (no tenant in its spec) serves both
    shared = await deploy_counting(worker, db)
    for key in (own, other):
        assert (await http.get(f"/v1/agents/{shared}", headers=bearer(key))).json()["tenant"] is None

    for sql in ("SELECT name FROM agents WHERE name = %s", "SELECT version FROM agent_versions WHERE agent_name = %s",
                "SELECT version FROM traffic_weights WHERE agent_name = %s", "SELECT id FROM deployments WHERE agent_name = %s"):
        assert _as_role("shipway_app", "bank-i", sql, name), sql
        assert _as_role("shipway_app", "bank-j", sql, name) == [], sql
        assert _as_role("shipway_platform", None, sql, name), sql
