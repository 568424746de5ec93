"""What a Jira webhook delivery costs the gateway, by outcome, on this machine.

Self-contained (no ``shipway up``, offline): stands up the stack of ``bench/local_stack.py`` (in a
temp dir an embedded PostgreSQL (migrated), a Temporal dev server, Shipway's real workers and the
real gateway on a free port of 127.0.0.1, all in this process except PostgreSQL and Temporal) with
the loopback Jira Cloud of ``tests/support/jira_loopback.py``; an admin API key rides along in the
HTTP client, which the signed webhook route ignores. Submits one counting test agent version and
waits until it awaits approval and its Jira issue is open, then sends ``POST /webhooks/jira`` deliveries over real
HTTP (httpx), in Jira's payload format with ``X-Hub-Signature`` and ``X-Atlassian-Webhook-Identifier``
headers built beforehand, each kind separately:

- ``signalled``: signed, a fresh identifier, a real status change of the issue to "Approved" by a
  Jira account that is not mapped to a Shipway identity; the gateway verifies, claims, records and
  signals the lifecycle workflow, which refuses and records each one (so the version keeps awaiting
  approval and the bench can repeat);
- ``duplicate``: a retry (same identifier) of a ``signalled`` delivery already taken;
- ``forged``: signed with a wrong secret: 401, recorded, audited;
- ``ignored``: signed, a real status change to "Awaiting approval" (stands for no decision).

Each kind is timed one at a time (p50/p95 latency of the whole HTTP exchange, ms) after a short
warm-up, then with 20 in flight (deliveries/s and p95). Answers are checked (status and outcome);
failures are counted and printed, not asserted. After each batch of signals the bench waits until
the workflow has recorded every refusal (``approvals`` rows) and Jira has heard of each, so later
figures are not taken while the workers catch up; it prints how long that took. It ends with the
refusals recorded for the version (``lifecycle.approval_refused`` audit events, ``approvals`` rows)
and the ``webhook_deliveries`` rows by outcome.

Client, gateway and workers share one event loop and the machine's cores with PostgreSQL and
Temporal, so the throughput figures are a floor. The per-address rate limit is the default. One
workflow takes every signal, about 20 history events each: keep ``--n`` plus ``--concurrent`` well
under 2,500 (Temporal fails a workflow at 51,200 events; the dev server warns from 10,240).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx

from bench._common import pct
from bench.local_stack import LocalStack, local_stack, until

SECRET = "bench-secret"
WRONG_SECRET = "not-the-bench-secret"
MAPPED = {"acct-carol": "carol.approver@bank.example"}
UNMAPPED = "acct-bench-unmapped"
IN_FLIGHT = 20


@dataclass
class Delivery:
    """One prepared delivery: the exact body and headers, and what the gateway should answer."""

    body: bytes
    headers: dict[str, str]
    status: int
    outcome: str | None  # None: an error answer (401), no outcome field


@dataclass
class Tally:
    """Latencies (ms) of one batch and its failures ``(status, answer)``."""

    ms: list[float] = field(default_factory=list)
    failures: list[tuple[int, str]] = field(default_factory=list)
    wall_s: float = 0.0


def _move(jira, key: str, from_status: str, to_status: str, account: str) -> bytes:
    """The body of a real status change of ``key`` from ``from_status`` to ``to_status`` by ``account``."""
    jira.set_status(key, from_status)
    return json.dumps(jira.issue_updated_payload(key, to_status, account, display_name=account)).encode()


def signalled(jira, key: str, n: int) -> list[Delivery]:
    out = []
    for _ in range(n):
        body = _move(jira, key, "Awaiting approval", "Approved", UNMAPPED)
        out.append(Delivery(body, _headers(body, SECRET), 200, "signalled"))
    return out


def duplicates(of: list[Delivery]) -> list[Delivery]:
    """Retries of deliveries already taken: same body and identifier, ``X-Atlassian-Webhook-Retry: 1``."""
    return [Delivery(d.body, _headers(d.body, SECRET, d.headers["X-Atlassian-Webhook-Identifier"], retry=1), 200, "duplicate")
            for d in of]


def forged(jira, key: str, n: int) -> list[Delivery]:
    out = []
    for _ in range(n):
        body = _move(jira, key, "Awaiting approval", "Approved", "acct-carol")
        out.append(Delivery(body, _headers(body, WRONG_SECRET), 401, None))
    return out


def ignored(jira, key: str, n: int) -> list[Delivery]:
    out = []
    for _ in range(n):
        body = _move(jira, key, "Approved", "Awaiting approval", "acct-carol")
        out.append(Delivery(body, _headers(body, SECRET), 200, "ignored"))
    return out


def _headers(body: bytes, secret: str, identifier: str | None = None, retry: int = 0) -> dict[str, str]:
    from tests.support.jira_loopback import webhook_headers

    return webhook_headers(body, secret, identifier or str(uuid.uuid4()), retry)


async def send(http: httpx.AsyncClient, d: Delivery, tally: Tally) -> None:
    t0 = time.perf_counter()
    try:
        r = await http.post("/webhooks/jira", content=d.body, headers=d.headers)
    except httpx.HTTPError as exc:
        tally.failures.append((0, f"{exc.__class__.__name__}: {exc}"))
        return
    tally.ms.append((time.perf_counter() - t0) * 1000)
    try:
        outcome = r.json().get("outcome") if d.outcome else None
    except ValueError:
        outcome = "(not JSON)"
    if r.status_code != d.status or outcome != d.outcome:
        tally.failures.append((r.status_code, r.text[:300]))


async def one_at_a_time(http: httpx.AsyncClient, deliveries: list[Delivery]) -> Tally:
    tally = Tally()
    t0 = time.perf_counter()
    for d in deliveries:
        await send(http, d, tally)
    tally.wall_s = time.perf_counter() - t0
    return tally


async def in_flight(http: httpx.AsyncClient, deliveries: list[Delivery], width: int = IN_FLIGHT) -> Tally:
    tally, queue = Tally(), list(reversed(deliveries))

    async def sender() -> None:
        while queue:
            await send(http, queue.pop(), tally)

    t0 = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(width)))
    tally.wall_s = time.perf_counter() - t0
    return tally


def line_sequential(what: str, tally: Tally) -> None:
    print(f"  {what + ', one at a time':46} p50 {pct(tally.ms, 50):6.1f} ms  p95 {pct(tally.ms, 95):6.1f} ms"
          f"   ({len(tally.ms)} sent{_failed(tally)})")


def line_concurrent(what: str, tally: Tally) -> None:
    rate = len(tally.ms) / tally.wall_s if tally.wall_s else 0.0
    print(f"  {what + f', {IN_FLIGHT} in flight:':46} {rate:5.0f} deliveries/s  p95 {pct(tally.ms, 95):6.1f} ms"
          f"   ({len(tally.ms)} sent{_failed(tally)})")


def _failed(tally: Tally) -> str:
    return f", {len(tally.failures)} FAILED" if tally.failures else ""


async def bench(stack: LocalStack, jira, n: int, n_concurrent: int, n_others: int) -> None:
    from shipway import queries
    from tests.support.lifecycle import counting_spec, submit, wait_for_step
    from workflows.statuses import LifecycleStep

    client, db = stack.client, stack.db
    t0 = time.perf_counter()
    name, version = await submit(client, db, counting_spec())
    st = await wait_for_step(client, name, version, LifecycleStep.APPROVAL)
    if st.step != LifecycleStep.APPROVAL:
        raise SystemExit(f"{name} v{version} did not reach approval: {st.status} {st.detail}")

    async def jira_key() -> str | None:
        row = await db.read(queries.approval_request, name, version)
        return row.jira_key if row else None

    if await until(jira_key, 120) is None:
        raise SystemExit(f"{name} v{version}: no Jira issue after 120 s")
    key = await jira_key()
    print(f"  {name} v{version} awaiting approval, Jira issue {key}, {time.perf_counter() - t0:.1f} s after submit")
    await _measure(stack.http, db, jira, name, version, key, n, n_concurrent, n_others)


async def _measure(http, db, jira, name: str, version: int, key: str, n: int, n_concurrent: int, n_others: int) -> None:
    from shipway import queries

    failures: list[tuple[str, int, str]] = []
    sent_signals = 0

    async def refused() -> int:
        return len(await db.read(queries.approvals, name, version, accepted=False))

    async def caught_up(what: str) -> None:
        """Wait until the workflow recorded a refusal for each signal and Jira heard of each."""
        t0 = time.perf_counter()

        async def recorded() -> bool:
            return await refused() >= sent_signals

        async def heard() -> bool:
            return sum("was refused" in c for c in jira.comments_text(key)) >= sent_signals

        took = await until(recorded, 120)
        heard_in = await until(heard, 120) if took is not None else None
        if took is None:
            print(f"    after {what}: the workflow recorded only {await refused()} of {sent_signals} refusals in 120 s")
        elif heard_in is None:
            print(f"    after {what}: refusals recorded {took:.1f} s after the last delivery; Jira not told of all in 120 s")
        else:
            print(f"    after {what}: workflow caught up {took:.1f} s after the last delivery, "
                  f"Jira told of every refusal {time.perf_counter() - t0:.1f} s after")

    def keep(kind: str, tally: Tally) -> Tally:
        failures.extend((kind, status, text) for status, text in tally.failures)
        return tally

    # warm-up: connections, pools, the gateway's caches, the workflow's sticky cache
    warm = signalled(jira, key, 5)
    for batch in (warm, duplicates(warm), forged(jira, key, 5), ignored(jira, key, 5)):
        keep("warm-up", await one_at_a_time(http, batch))
    sent_signals += len(warm)
    await caught_up("the warm-up")

    what = "signed webhook -> signal"
    seq = signalled(jira, key, n)
    tally = keep("signalled", await one_at_a_time(http, seq))
    sent_signals += len(seq) - len(tally.failures)
    line_sequential(what, tally)
    await caught_up(f"{n} signals one at a time")
    conc = signalled(jira, key, n_concurrent)
    tally = keep("signalled", await in_flight(http, conc))
    sent_signals += len(conc) - len(tally.failures)
    line_concurrent(what, tally)
    await caught_up(f"{n_concurrent} signals, {IN_FLIGHT} in flight")

    what = "repeated delivery -> duplicate"
    line_sequential(what, keep("duplicate", await one_at_a_time(http, duplicates(seq))))
    line_concurrent(what, keep("duplicate", await in_flight(http, duplicates(conc[:n_others]))))

    what = "wrong signature -> 401 forged"
    line_sequential(what, keep("forged", await one_at_a_time(http, forged(jira, key, n))))
    line_concurrent(what, keep("forged", await in_flight(http, forged(jira, key, n_others))))

    what = "signed, no decision -> ignored"
    line_sequential(what, keep("ignored", await one_at_a_time(http, ignored(jira, key, n))))
    line_concurrent(what, keep("ignored", await in_flight(http, ignored(jira, key, n_others))))

    subject = f"agent:{name}:v{version}"
    audited = await db.read(queries.audit_events, subject=subject, action_prefix="lifecycle.approval_refused", limit=1_000_000)
    rows = await db.read(queries.approvals, name, version)
    status = await db.read(queries.version_status, name, version)
    outcomes = Counter(r.outcome for r in await db.read(queries.webhook_deliveries, limit=1_000_000))
    print(f"  signalled deliveries answered 200: {sent_signals}; recorded for {subject}: "
          f"{len(audited)} lifecycle.approval_refused audit events, {len(rows)} approvals rows "
          f"({sum(not r.accepted for r in rows)} refused); version status {status}")
    print("  webhook_deliveries: " + ", ".join(f"{outcome} {count}" for outcome, count in sorted(outcomes.items())))
    if failures:
        print(f"  {len(failures)} deliveries failed; by kind: {dict(Counter(kind for kind, _, _ in failures))}")
        for (kind, status_code, text), count in Counter(failures).most_common(5):
            print(f"    {count} x {kind}: HTTP {status_code} {text}")
    else:
        print("  no delivery failed (every answer had the expected status and outcome)")


async def main(n: int, n_concurrent: int, n_others: int) -> None:
    started = time.perf_counter()
    from tests.support.jira_loopback import LoopbackJira

    print(f"Jira webhooks through the gateway: {os.cpu_count()} cores, {platform.machine()}, {platform.system()} "
          f"{platform.release()}, Python {platform.python_version()}; {n} one at a time per kind, "
          f"{n_concurrent} signals and {n_others} of each other kind with {IN_FLIGHT} in flight")
    with LoopbackJira() as jira:
        env = dict(SHIPWAY_JIRA_URL=jira.url, SHIPWAY_JIRA_EMAIL=jira.email, SHIPWAY_JIRA_API_TOKEN=jira.api_token,
                   SHIPWAY_JIRA_PROJECT=jira.project, SHIPWAY_JIRA_WEBHOOK_SECRETS=json.dumps([SECRET]),
                   SHIPWAY_JIRA_USERS=json.dumps(MAPPED))
        async with local_stack(env, prefix="shipway-bench-webhooks-", max_connections=IN_FLIGHT + 5) as stack:
            print(f"  stack up (PostgreSQL, Temporal dev server, loopback Jira) in {stack.up_s:.1f} s; "
                  f"workers and gateway ready at {stack.ready_s:.1f} s")
            await bench(stack, jira, n, n_concurrent, n_others)
    print(f"  done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=300, help="deliveries of each kind one at a time")
    ap.add_argument("--concurrent", type=int, default=600, help="signalled deliveries with 20 in flight")
    ap.add_argument("--others", type=int, default=300, help="duplicate, forged and ignored deliveries each with 20 in flight")
    args = ap.parse_args()
    asyncio.run(main(args.n, args.concurrent, args.others))
    sys.stdout.flush()
    os._exit(0)  # the Temporal runtime may abort at interpreter exit (temporalio/sdk-python#300)
