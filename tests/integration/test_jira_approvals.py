"""Approvals through Jira, end to end: Shipway's real Jira client against a loopback Jira Cloud
(REST v3: create issue, search, comment, transitions, myself), real signed webhooks in Jira's
payload format through the gateway, and the real lifecycle workflow and worker.

Covered: a signed webhook approves and the rollout is commented on the issue; forged, unsigned,
oversized and replayed deliveries signal nothing and are recorded; Jira down (and a create whose
answer was lost) while the issue is opened ends with one issue once Jira is back, while a console
decision still goes through; two approvers for restricted data; the owner and unmapped accounts
refused through Jira; a rejection needs a reason; a dead letter re-driven by ``shipway webhooks replay``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import pytest_asyncio

from activities.approval_requests import issue_label
from shipway import control, queries
from tests.support.jira_loopback import LoopbackJira, webhook_headers
from tests.support.lifecycle import APPROVER, OWNER, counting_spec, submit, wait_for_step
from tests.support.workers import running_workers
from workflows.statuses import ApprovalKind, LifecycleStep, VersionStatus, WebhookOutcome

pytestmark = pytest.mark.asyncio(loop_scope="session")

SECRETS = ["retired-secret-2025", "current-secret-2026"]
SECOND = "dave.risk@bank.example"
ACCOUNTS = {"acct-carol": APPROVER, "acct-dave": SECOND, "acct-olivia": OWNER}
MAX_BODY = 64 * 1024


@pytest.fixture
def jira(settings_env, monkeypatch: pytest.MonkeyPatch):
    """A loopback Jira Cloud, and settings that point Shipway at it (accounts mapped, two webhook
    secrets as during a rotation, a 64 KiB webhook body limit)."""
    from shipway.settings import get_settings

    with LoopbackJira() as server:
        for name, value in {"SHIPWAY_JIRA_URL": server.url, "SHIPWAY_JIRA_EMAIL": server.email,
                            "SHIPWAY_JIRA_API_TOKEN": server.api_token, "SHIPWAY_JIRA_PROJECT": server.project,
                            "SHIPWAY_JIRA_USERS": json.dumps(ACCOUNTS), "SHIPWAY_JIRA_WEBHOOK_SECRETS": json.dumps(SECRETS),
                            "SHIPWAY_WEBHOOK_MAX_BODY_BYTES": str(MAX_BODY), "SHIPWAY_JIRA_SEARCH_SETTLE_S": "1"}.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        yield server
        get_settings.cache_clear()


@pytest_asyncio.fixture(loop_scope="session")
async def shipway(jira, temporal_env) -> AsyncIterator:
    """Workers configured for the loopback Jira, and the gateway app over ASGI."""
    from shipway.gateway.app import create_app

    async with running_workers(temporal_env.client) as client:
        app = create_app()
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as http:
                yield client, http


@pytest_asyncio.fixture(loop_scope="session")
async def db(settings_env):
    from shipway.db.engine import Database

    async with Database.from_settings(pool_size=2) as database:
        yield database


async def _until(check: Callable, what: str, timeout_s: float = 60):
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not (result := await check()):
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)
    return result


async def _awaiting_with_issue(client, db, spec: dict) -> tuple[str, int, str]:
    """Submit ``spec``; wait until it awaits approval and its Jira issue exists; returns (name, version, key)."""
    name, version = await submit(client, db, spec)
    await wait_for_step(client, name, version, LifecycleStep.APPROVAL)

    async def issue():
        row = await db.read(queries.approval_request, name, version)
        return row.jira_key if row else None

    return name, version, await _until(issue, f"the Jira issue of {name} v{version}")


async def _deliver(http: httpx.AsyncClient, body: bytes, secret: str | None = SECRETS[1], identifier: str | None = None,
                   retry: int = 0) -> httpx.Response:
    return await http.post("/webhooks/jira", content=body, headers=webhook_headers(body, secret, identifier, retry))


def _move(jira: LoopbackJira, key: str, status: str, account: str, comment: str | None = None) -> bytes:
    return json.dumps(jira.issue_updated_payload(key, status, account, comment=comment)).encode()


async def _delivery(db, delivery_id: int):
    [row] = await db.read(queries.webhook_deliveries, [delivery_id])
    return row


async def test_a_signed_webhook_approves_and_the_rollout_is_commented_on_the_issue(shipway, jira, db):
    client, http = shipway
    name, version, key = await _awaiting_with_issue(client, db, counting_spec())
    issue = jira.issues[key]
    assert issue["fields"]["labels"] == ["shipway", issue_label(name, version)]
    assert issue["fields"]["status"]["name"] == "Awaiting approval" or issue["fields"]["status"]["name"]
    description = json.dumps(issue["fields"]["description"])
    status = await control.lifecycle_status(client, name, version)
    for expected in (status.artifact_sha256, "Spec guard findings", "template: counting_agent:AGENT",
                     f"agent%3A{name}%3Av{version}", "First version of this agent"):
        assert expected in description, expected

    body = _move(jira, key, "Approved", "acct-carol", comment="Model risk review MRM-112 passed")
    first = await _deliver(http, body, secret=SECRETS[0])  # the retiring secret still verifies during a rotation
    assert first.status_code == 200, first.text
    assert first.json()["outcome"] == WebhookOutcome.SIGNALLED
    result = await control.wait_lifecycle(client, name, version)
    assert (result.status, result.approver) == (VersionStatus.LIVE, APPROVER)

    identifier = (await _delivery(db, first.json()["delivery"])).identifier
    again = await _deliver(http, body, identifier=identifier, retry=1)  # Jira's retry of the same delivery
    assert (again.status_code, again.json()["outcome"]) == (200, WebhookOutcome.DUPLICATE)
    [decision] = await db.read(queries.approvals, name, version)
    assert (decision.accepted, decision.approver, decision.channel, decision.reason) == (
        True, APPROVER, "jira", "Model risk review MRM-112 passed")
    [event] = await db.read(queries.audit_events, f"agent:{name}:v{version}", "lifecycle.decision.approve")
    assert (event.actor, event.detail["channel"], event.detail["jira_account"]) == (APPROVER, "jira", "acct-carol")

    comments = await _until(lambda: _settled_comments(jira, key, "Live:"), "the live comment")
    assert any(c.startswith(f"Approved by {APPROVER} via jira") for c in comments)
    assert any(c.startswith("Deployment succeeded") for c in comments)


async def _settled_comments(jira: LoopbackJira, key: str, last: str) -> list[str] | None:
    comments = jira.comments_text(key)
    return comments if any(c.startswith(last) for c in comments) else None


async def test_forged_unsigned_oversized_and_replayed_deliveries_signal_nothing_and_are_recorded(shipway, jira, db):
    client, http = shipway
    name, version, key = await _awaiting_with_issue(client, db, counting_spec())
    approve = _move(jira, key, "Approved", "acct-carol", comment="looks fine")
    jira.set_status(key, "Awaiting approval")

    unsigned = await _deliver(http, approve, secret=None)
    forged = await _deliver(http, approve, secret="guessed-secret")
    tampered_body = approve.replace(b"acct-carol", b"acct-dave")
    tampered = await http.post("/webhooks/jira", content=tampered_body, headers=webhook_headers(approve, SECRETS[1]))
    oversized_body = json.dumps({**json.loads(approve), "padding": "x" * MAX_BODY}).encode()
    oversized = await _deliver(http, oversized_body)
    assert [r.status_code for r in (unsigned, forged, tampered, oversized)] == [401, 401, 401, 413]

    st = await control.lifecycle_status(client, name, version)
    assert (st.status, st.approvers, st.refused) == (VersionStatus.AWAITING_APPROVAL, [], [])
    assert await db.read(queries.approvals, name, version) == []
    rows = await db.read(queries.webhook_deliveries, newest_first=True, limit=4)
    assert [r.outcome for r in reversed(rows)] == [WebhookOutcome.UNSIGNED, WebhookOutcome.FORGED, WebhookOutcome.FORGED,
                                                   WebhookOutcome.TOO_LARGE]
    assert all(r.signature_valid is not True and r.body is None for r in rows)
    refused = await db.read(queries.audit_events, "webhook:jira", "webhook.refused")
    assert {e.detail["outcome"] for e in refused[-3:]} == {"unsigned", "forged"}

    taken = await _deliver(http, approve)
    assert taken.json()["outcome"] == WebhookOutcome.SIGNALLED
    identifier = (await _delivery(db, taken.json()["delivery"])).identifier
    replayed = await asyncio.gather(*(_deliver(http, approve, identifier=identifier, retry=1) for _ in range(3)))
    assert {r.json()["outcome"] for r in replayed} == {WebhookOutcome.DUPLICATE}
    result = await control.wait_lifecycle(client, name, version)
    assert result.status == VersionStatus.LIVE and result.refused == []
    assert [(r.accepted, r.approver) for r in await db.read(queries.approvals, name, version)] == [(True, APPROVER)]


async def test_jira_down_while_the_issue_is_opened_recovers_with_one_issue(shipway, jira, db):
    client, http = shipway
    jira.down = True
    name, version = await submit(client, db, counting_spec())
    await wait_for_step(client, name, version, LifecycleStep.APPROVAL)
    row = await _until(lambda: _unreachable(db, name, version), "Jira recorded as unreachable")
    assert row.jira_key is None and "503" in row.jira_error

    jira.fail_next(1, mode="lose_response")  # Jira comes back, creates the issue, and the answer is lost
    jira.down = False
    row = await _until(lambda: _with_issue(db, name, version), "the issue once Jira is back")
    assert row.jira_unreachable_since is None
    label = issue_label(name, version)
    assert [k for k, i in jira.issues.items() if label in i["fields"]["labels"]] == [row.jira_key]

    await control.decide(client, name, version, ApprovalKind.APPROVE, APPROVER, "approved in the console while Jira was away")
    assert (await control.wait_lifecycle(client, name, version)).status == VersionStatus.LIVE
    await _until(lambda: _settled_comments(jira, row.jira_key, "Live:"), "the live comment")
    assert jira.issues[row.jira_key]["fields"]["status"]["name"] == "Approved"  # moved: the decision came from the console
    assert any(c.startswith(f"Approved by {APPROVER} via cli") for c in jira.comments_text(row.jira_key))


async def _unreachable(db, name: str, version: int):
    row = await db.read(queries.approval_request, name, version)
    return row if row and row.jira_unreachable_since else None


async def _with_issue(db, name: str, version: int):
    row = await db.read(queries.approval_request, name, version)
    return row if row and row.jira_key else None


async def test_restricted_data_needs_two_distinct_approvers_through_jira(shipway, jira, db):
    client, http = shipway
    name, version, key = await _awaiting_with_issue(client, db, counting_spec(data_classification="restricted"))
    assert (await db.read(queries.approval_request, name, version)).required_approvers == 2

    first = await _deliver(http, _move(jira, key, "Approved", "acct-carol", comment="first review"))
    assert first.json()["outcome"] == WebhookOutcome.SIGNALLED
    st = await _until(lambda: _approvers(client, name, version, 1), "the first approval")
    assert st.status == VersionStatus.AWAITING_APPROVAL
    await _until(lambda: _status_is(jira, key, "Awaiting approval"), "the issue moved back for the second approver")

    await _deliver(http, _move(jira, key, "Approved", "acct-carol", comment="me again"))
    st = await _until(lambda: _refusals(client, name, version, 1), "the repeated approval refused")
    assert "already approved" in st.refused[0].why and st.refused[0].channel == "jira"
    await _until(lambda: _status_is(jira, key, "Awaiting approval"), "the issue moved back after the refusal")

    await _deliver(http, _move(jira, key, "Approved", "acct-dave", comment="second review"))
    result = await control.wait_lifecycle(client, name, version)
    assert (result.status, result.approvers) == (VersionStatus.LIVE, [APPROVER, SECOND])
    decisions = await db.read(queries.audit_events, f"agent:{name}:v{version}", "lifecycle.decision.approve")
    assert [(e.actor, e.detail["approvals"], e.detail["required"]) for e in decisions] == [(APPROVER, 1, 2), (SECOND, 2, 2)]


async def _approvers(client, name, version, n):
    st = await control.lifecycle_status(client, name, version)
    return st if len(st.approvers) >= n else None


async def _refusals(client, name, version, n):
    st = await control.lifecycle_status(client, name, version)
    return st if len(st.refused) >= n else None


async def _status_is(jira: LoopbackJira, key: str, status: str) -> bool:
    return jira.issues[key]["fields"]["status"]["name"] == status


async def test_owner_unmapped_accounts_and_reasonless_rejections_are_refused_through_jira(shipway, jira, db):
    client, http = shipway
    name, version, key = await _awaiting_with_issue(client, db, counting_spec())

    moves = [("Approved", "acct-olivia", "my own agent, ship it"), ("Approved", "acct-mallory", "trust me"), ("Rejected", "acct-carol", None)]
    for n, (status, account, comment) in enumerate(moves, 1):
        await _deliver(http, _move(jira, key, status, account, comment=comment))
        await _until(lambda: _refusals(client, name, version, n), f"refusal {n}")
        await _until(lambda: _status_is(jira, key, "Awaiting approval"), f"the issue moved back after refusal {n}")
    st = await control.lifecycle_status(client, name, version)
    assert [(r.approver, r.channel) for r in st.refused] == [(OWNER, "jira"), ("jira:acct-mallory", "jira"), (APPROVER, "jira")]
    assert "owner" in st.refused[0].why
    assert "not mapped" in st.refused[1].why
    assert "rejection must carry a reason" in st.refused[2].why
    rows = await db.read(queries.approvals, name, version)
    assert [(r.accepted, r.approver, r.channel) for r in rows] == [
        (False, OWNER, "jira"), (False, "jira:acct-mallory", "jira"), (False, APPROVER, "jira")]
    comments = jira.comments_text(key)
    assert sum("was refused" in c for c in comments) == 3

    await _deliver(http, _move(jira, key, "Rejected", "acct-carol", comment="fails the model risk policy MRP-7"))
    result = await control.wait_lifecycle(client, name, version)
    assert result.status == VersionStatus.REJECTED and "MRP-7" in result.detail


async def test_a_dead_letter_is_kept_and_replayed_by_the_cli(shipway, jira, db, settings_env):
    from shipway.gateway.app import create_app
    from shipway.settings import get_settings

    client, _ = shipway
    name, version, key = await _awaiting_with_issue(client, db, counting_spec())
    # a gateway whose Temporal namespace does not exist: it verifies and records, but cannot signal
    broken = create_app(get_settings().model_copy(update={"temporal_namespace": "no-such-namespace"}))
    async with broken.router.lifespan_context(broken):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=broken), base_url="http://gateway") as http:
            response = await _deliver(http, _move(jira, key, "Approved", "acct-carol", comment="approved while misrouted"))
    assert response.status_code == 503 and response.headers["retry-after"] == "60"
    delivery = response.json()["detail"]["delivery"]
    row = await _delivery(db, delivery)
    assert (row.outcome, row.attempts, row.workflow_id) == (WebhookOutcome.DEAD_LETTER, 1, f"agent:{name}:v{version}")
    assert (await control.lifecycle_status(client, name, version)).status == VersionStatus.AWAITING_APPROVAL

    code, listed = await _shipway("webhooks", "list", "--dead-letters")
    assert code == 0 and f"{delivery}" in listed and "dead_letter" in listed
    code, replayed = await _shipway("webhooks", "replay", str(delivery), "--as", "oscar.ops@bank.example")
    assert code == 0, replayed
    assert f"{delivery}: signalled: approve of agent:{name}:v{version} as {APPROVER}" in replayed
    result = await control.wait_lifecycle(client, name, version)
    assert (result.status, result.approver) == (VersionStatus.LIVE, APPROVER)

    code, again = await _shipway("webhooks", "replay", str(delivery))
    assert code == 0 and "not a dead letter: left alone" in again  # never signals twice
    assert len(await db.read(queries.approvals, name, version)) == 1
    [replay] = await db.read(queries.audit_events, "webhook:jira", "webhook.replayed")
    assert (replay.actor, replay.detail["delivery"], replay.detail["outcome"]) == ("oscar.ops@bank.example", delivery, "signalled")


async def _shipway(*args: str) -> tuple[int, str]:
    """Run the ``shipway`` CLI in its own process (it leaves with ``os._exit``), with this test's settings."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "shipway", *args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    return proc.returncode, out.decode()


async def test_many_deliveries_in_a_row_are_each_recorded_once(shipway, jira, db):
    """Thirty signed deliveries that decide nothing, one after another on the gateway's pooled
    connections: each is answered and recorded (the claim's ON CONFLICT must keep matching the partial
    unique index after psycopg switches to prepared statements), and a retry of each is a duplicate."""
    client, http = shipway
    _, _, key = await _awaiting_with_issue(client, db, counting_spec())
    answers = []
    for _ in range(30):
        jira.set_status(key, "Approved")
        body = _move(jira, key, "Awaiting approval", "acct-carol")
        first = await _deliver(http, body)
        identifier = (await _delivery(db, first.json()["delivery"])).identifier
        answers.append((first.status_code, first.json()["outcome"]))
        again = await _deliver(http, body, identifier=identifier, retry=1)
        answers.append((again.status_code, again.json()["outcome"]))
    assert answers == [(200, WebhookOutcome.IGNORED), (200, WebhookOutcome.DUPLICATE)] * 30
