"""How fast a canary rollout catches a bad version under steady traffic, and what it costs: the
time and the requests from the canary's start to its rollback, and how many the bad version served.

Self-contained (no ``shipway up``, offline): stands up the stack of ``bench/local_stack.py`` (an
embedded PostgreSQL, a Temporal dev server, Shipway's real workers and the real gateway on a free
port of 127.0.0.1, an admin API key). Then:

1. deploys the counting test agent (``tests/agents/counting_agent.py``) as a stable v1 (first version:
   straight to 100 %);
2. submits v2 with spec ``config: {fail_ratio: F}`` (a run fails, non-retryably, when
   ``(seq % 100) < F*100``) and ``deployment: Custom [{10 %, bake B}, {50 %, bake B}, {100 %}]`` with
   the default thresholds (``min_runs`` 20, error rate significantly > 5 % at alpha 0.05,
   ``max_inconclusive`` 3, p99 <= 5 s and <= 1.5 x stable's unless within 250 ms of it). The bake is written in the spec as 300 s
   and ``SHIPWAY_BAKE_TIME_SCALE`` (set before the submit) scales it to ``--bake-s`` of wall time;
3. once v2 awaits approval, drives steady traffic through the gateway: ``POST
   /v1/agents/{name}/runs?wait=true`` with input ``{"log_path": os.devnull, "seq": n}``, ``n``
   incrementing per request over the whole bench, open loop at ``--rate`` requests/s (a request
   waits for a slot only when ``--max-in-flight`` are in flight), from ``--lead-s`` before the
   approval (``shipway.control.decide``) until the lifecycle has settled (``control.wait_lifecycle``)
   plus ``--tail-s``. Every request is recorded: send time, HTTP status, the version that served it
   (the answer's ``version``), the run's status;
4. reads what Shipway recorded (audit events of the rollout, ``deployment_analyses``, the version's
   status and detail, the ``deployments`` row, the traffic weights) and prints: the canary's start
   (the ``deployment.weights`` audit event of its first step) to its rollback (the
   ``deployment.rolled_back`` audit event) in seconds, the requests sent in that interval, how many
   the bad version served and how many of those failed, the rollback reason, every analysis with
   its verdict, and how many requests the bad version served after the rollback;
5. unless ``--no-healthy``: the same with a healthy v3 (``fail_ratio`` 0, bake ``--healthy-bake-s``),
   from the canary's start to ``deployment.succeeded`` (time to live), or to whatever ended it.

Figures are wall-clock on this machine, with client, gateway and workers sharing one event loop
and the cores with PostgreSQL and Temporal. The time to rollback is mostly the bake (the analysis
runs when the step's bake ends, and again after each further bake while it is inconclusive: at
10 % a step needs 20 / (0.1 x rate) seconds to reach ``min_runs``); the number of requests the bad
version served is about rate x weight x time to rollback. The default rate, 5/s, is one this
in-process stack serves without queueing on 2 cores (p50 about 0.2 s); at 10/s offered it served
about 6/s with p50 over 1 s, the rest waiting for a slot (printed as ``sent late``). Which requests
fail is set by ``seq`` (deterministic); which version serves each is the gateway's weighted random
pick, so the counts vary a little from run to run. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from temporalio.exceptions import ApplicationError

from bench._common import pct
from bench.local_stack import LocalStack, local_stack

SPEC_BAKE_S = 300.0  # each step's bake as written in the spec; SHIPWAY_BAKE_TIME_SCALE turns it into --bake-s
STEP_WEIGHTS = (10, 50, 100)


class ExpectedFailures(logging.Filter):
    """Drops the worker's warning (with traceback) for each run the bad version fails on purpose (an
    ``ApplicationError`` of type ``CountingFailure``), and counts them; every other record passes."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, ApplicationError) and exc.type == "CountingFailure":
            self.dropped += 1
            return False
        return True


@dataclass
class Sent:
    """One request of the traffic: when it was sent (UTC, and ``perf_counter``), how long the whole
    HTTP exchange took, the HTTP status, and from the answer the version that served it and the
    run's status (``None`` without a 200 answer)."""

    seq: int
    at: datetime
    t: float
    ms: float = 0.0
    http: int = 0
    version: int | None = None
    status: str | None = None
    error: str = ""


@dataclass
class Traffic:
    """Open-loop traffic to one agent through the gateway at ``rate`` requests/s, at most
    ``max_in_flight`` at once (a request that finds none free waits, and is sent late)."""

    http: httpx.AsyncClient
    name: str
    rate: float
    max_in_flight: int
    seq: list[int]  # the next ``seq``, shared by every scenario of the bench
    sent: list[Sent] = field(default_factory=list)
    late: int = 0
    peak_in_flight: int = 0
    _in_flight: int = 0

    async def _one(self, rec: Sent, slots: asyncio.Semaphore) -> None:
        try:
            r = await self.http.post(f"/v1/agents/{self.name}/runs?wait=true",
                                     json={"input": {"log_path": os.devnull, "seq": rec.seq}})
            rec.http = r.status_code
            if r.status_code == 200:
                body = r.json()
                rec.version, rec.status = body.get("version"), body.get("status")
            else:
                rec.error = r.text[:200]
        except httpx.HTTPError as exc:
            rec.error = f"{exc.__class__.__name__}: {exc}"
        finally:
            rec.ms = (time.perf_counter() - rec.t) * 1000
            self._in_flight -= 1
            slots.release()

    async def run(self, stop: asyncio.Event) -> None:
        """Send until ``stop`` is set, then wait for the requests in flight."""
        slots, tasks = asyncio.Semaphore(self.max_in_flight), []
        period, due = 1.0 / self.rate, time.perf_counter()
        while not stop.is_set():
            delay = due - time.perf_counter()
            if delay > 0:
                try:
                    await asyncio.wait_for(stop.wait(), delay)
                    break
                except TimeoutError:
                    pass
            if slots.locked():
                self.late += 1
            await slots.acquire()
            now = time.perf_counter()
            due += period
            if due < now:  # more than a period behind schedule: no burst to catch up
                due = now + period
            rec = Sent(seq=self.seq[0], at=datetime.now(UTC), t=now)
            self.seq[0] += 1
            self.sent.append(rec)
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
            tasks.append(asyncio.create_task(self._one(rec, slots)))
        await asyncio.gather(*tasks)


def spec_steps(bake_s: float) -> list[dict]:
    return [{"weight_pct": w, "bake_s": bake_s} if w < 100 else {"weight_pct": w} for w in STEP_WEIGHTS]


def rel(ts: datetime | None, t0: datetime) -> str:
    return f"{(ts - t0).total_seconds():+.1f} s" if ts is not None else "-"


def between(sent: list[Sent], start: datetime, end: datetime) -> list[Sent]:
    return [r for r in sent if start <= r.at <= end]


def served_line(rs: list[Sent], version: int) -> str:
    by = [r for r in rs if r.version == version]
    failed = sum(r.status == "failed" for r in by)
    share = f" ({len(by) / len(rs):.1%} of them)" if rs else ""
    return f"served by v{version}: {len(by)}{share}, of which failed: {failed}" + (f" ({failed / len(by):.0%})" if by else "")


def metrics_line(m: dict) -> str:
    out = f"{m['metric']} {m['verdict']}"
    if m.get("p_value") is not None:
        out += f" (p={m['p_value']:.2g})"
    if m["metric"] == "p99_latency" and m.get("canary") is not None:
        base = f" vs stable {m['baseline']:.0f}" if m.get("baseline") is not None else ""
        out += f" ({m['canary']:.0f} ms{base}, limit {m['limit']:.0f})" if m.get("limit") is not None else f" ({m['canary']:.0f} ms{base})"
    return out


async def scenario(stack: LocalStack, name: str, stable: int, label: str, config: dict, bake_s: float, args,
                   seq: list[int]) -> None:
    from shipway import control, queries
    from shipway.settings import get_settings
    from tests.support.lifecycle import APPROVER, counting_spec, submit, wait_for_step
    from workflows.statuses import ApprovalKind, LifecycleStep
    from workflows.types import deployment_workflow_id

    db = stack.db
    scale = bake_s / SPEC_BAKE_S
    os.environ["SHIPWAY_BAKE_TIME_SCALE"] = repr(scale)
    get_settings.cache_clear()
    spec = counting_spec(name=name, config=config, deployment={"strategy": "Custom", "steps": spec_steps(SPEC_BAKE_S)})
    t_submit = time.perf_counter()
    _, version = await submit(stack.client, db, spec)
    st = await wait_for_step(stack.client, name, version, LifecycleStep.APPROVAL)
    if st.step != LifecycleStep.APPROVAL:
        print(f"  {label}: v{version} did not reach approval: {st.status} {st.detail}")
        return
    print(f"\n{label}: {name} v{version}, config {config}, Custom {' -> '.join(f'{w}%' for w in STEP_WEIGHTS)}, "
          f"bake {SPEC_BAKE_S:.0f} s x SHIPWAY_BAKE_TIME_SCALE {scale:g} = {bake_s:g} s per step; "
          f"awaiting approval {time.perf_counter() - t_submit:.1f} s after submit")

    traffic = Traffic(stack.http, name, args.rate, args.max_in_flight, seq)
    stop = asyncio.Event()
    sending = asyncio.create_task(traffic.run(stop))
    await asyncio.sleep(args.lead_s)
    approved_at, t_approved = datetime.now(UTC), time.perf_counter()
    await control.decide(stack.client, name, version, ApprovalKind.APPROVE, APPROVER, "bench: canary rollout")
    timeout_s = 3 * (len(STEP_WEIGHTS) - 1) * (bake_s + 30) + 120  # only a guard against a hang
    try:
        result = await asyncio.wait_for(control.wait_lifecycle(stack.client, name, version), timeout_s)
        settled = f"{result.status} ({result.detail})" if result.detail else str(result.status)
    except TimeoutError:
        settled = f"NOT SETTLED after {timeout_s:.0f} s"
    settled_s = time.perf_counter() - t_approved
    await asyncio.sleep(args.tail_s)
    stop.set()
    await sending
    sent = traffic.sent

    subject = f"agent:{name}:v{version}"
    events = await db.read(queries.audit_events, subject=subject, action_prefix="deployment.", limit=10_000)
    analyses = await db.read(queries.deployment_analyses, workflow_id=deployment_workflow_id(name, version))
    row = await db.read(queries.agent_version, name, version)
    deployment = next((d for d in await db.read(queries.deployments, name) if d.version == version), None)
    weights = {w.version: w.weight_pct for w in await db.read(queries.traffic, name)}

    t0 = approved_at
    print(f"  traffic: {len(sent)} requests from {rel(sent[0].at, t0)} to {rel(sent[-1].at, t0)} (times from the approval), "
          f"lifecycle settled at {settled_s:+.1f} s: {settled}")
    print("  rollout audit events: " + ", ".join(
        f"{e.action.removeprefix('deployment.')}"
        + (f" {{{', '.join(f'v{k}: {v:g}%' for k, v in e.detail['weights'].items())}}}" if e.action == "deployment.weights" else "")
        + f" {rel(e.ts, t0)}" for e in events))

    first_weights = next((e for e in events if e.action == "deployment.weights"), None)
    end = next((e for e in events if e.action in ("deployment.rolled_back", "deployment.succeeded", "deployment.aborted",
                                                  "deployment.failed")), None)
    first_served = next((r for r in sent if r.version == version), None)
    if first_weights is None or end is None:
        print(f"  the rollout has no weights event or no end event: weights {first_weights is not None}, end {end is not None}")
        return
    outcome = end.action.removeprefix("deployment.")
    span = (end.ts - first_weights.ts).total_seconds()
    window = between(sent, first_weights.ts, end.ts)
    print(f"  canary start (first deployment.weights, {rel(first_weights.ts, t0)}) -> {outcome} ({rel(end.ts, t0)}): {span:.1f} s"
          + (f"; from the first request v{version} served (sent {rel(first_served.at, t0)}): "
             f"{(end.ts - first_served.at).total_seconds():.1f} s" if first_served else f"; v{version} served no request"))
    print(f"  requests sent in that interval: {len(window)} ({len(window) / span:.1f}/s); {served_line(window, version)}; "
          f"{served_line(window, stable)}")
    mine = [r for r in sent if r.version == version]
    print(f"  over the whole traffic: {served_line(sent, version)}")
    after = [r for r in sent if r.at > end.ts]
    by = Counter(r.version for r in after)
    others = sorted(v for v in by if v not in (version, stable))
    print(f"  after {outcome}: {len(after)} requests sent; served by v{version}: {by[version]}, by v{stable}: {by[stable]}"
          + "".join(f", by {'no version (no 200 answer)' if v is None else f'v{v}'}: {by[v]}" for v in others))
    if mine:
        last = max(r.at for r in mine)
        print(f"  last request served by v{version} sent at {rel(last, t0)} ({(last - end.ts).total_seconds():+.2f} s from {outcome})")
    print(f"  version status {row.status if row else '?'}; detail: {row.status_detail if row and row.status_detail else '-'}")
    if deployment is not None:
        print(f"  deployments row: {deployment.status}, weight {deployment.weight_pct:g}%, finished {rel(deployment.finished_at, t0)}"
              + (f", detail: {deployment.detail}" if deployment.detail else ""))
    print("  traffic weights now: " + ", ".join(f"v{v} {w:g}%" for v, w in sorted(weights.items())))
    print(f"  analyses: {len(analyses)} ({', '.join(a.verdict for a in analyses) or 'none'})")
    for a in analyses:
        c, b = a.canary, a.baseline or {}
        canary = (f"canary {c['finished']} finished, {c['failed']} failed"
                  + (f" ({c['error_rate']:.1%})" if c.get("error_rate") is not None else ""))
        base = f"stable {b.get('finished', 0)} finished, {b.get('failed', 0)} failed"
        print(f"    #{a.analysis_index} step {a.step_index} at {a.weight_pct:g}%: window {rel(a.window_start, t0)} .. "
              f"{rel(a.analysed_at, t0)}, {a.verdict.upper()}; {canary}; {base}")
        print(f"       {'; '.join(metrics_line(m) for m in a.metrics)}")
        for reason in a.reasons:
            print(f"       reason: {reason}")
    http_errors = Counter(r.http for r in sent if r.http != 200)
    statuses = Counter((r.version, r.status) for r in sent if r.http == 200)
    ms = [r.ms for r in sent if r.http == 200]
    print("  every request: " + ", ".join(f"v{v} {s} {c}" for (v, s), c in sorted(statuses.items(), key=str))
          + (f"; HTTP errors {dict(http_errors)}" if http_errors else "; no HTTP error")
          + (f"; latency p50 {pct(ms, 50):.0f} ms p95 {pct(ms, 95):.0f} ms" if ms else "")
          + f"; peak {traffic.peak_in_flight} in flight, {traffic.late} sent late (all {args.max_in_flight} slots were busy)")
    for r in [r for r in sent if r.http != 200][:3]:
        print(f"    e.g. seq {r.seq}: HTTP {r.http} {r.error}")


async def main(args) -> None:
    started = time.perf_counter()
    quiet = ExpectedFailures()
    logging.getLogger("temporalio.activity").addFilter(quiet)
    print(f"Canary rollback under steady traffic: {os.cpu_count()} cores, {platform.machine()}, {platform.system()} "
          f"{platform.release()}, Python {platform.python_version()}")
    print(f"  traffic {args.rate:g} requests/s through the gateway (?wait=true, at most {args.max_in_flight} in flight), "
          f"from {args.lead_s:g} s before the approval until {args.tail_s:g} s after the lifecycle settled; "
          f"bad version fail_ratio {args.fail_ratio:g}, bake {args.bake_s:g} s per step"
          + (f"; healthy version bake {args.healthy_bake_s:g} s" if args.healthy else "; no healthy run")
          + "; default thresholds (min_runs 20, error rate > 5% at alpha 0.05, max_inconclusive 3, p99 <= 5 s and 1.5 x stable unless within 250 ms of it)")
    async with local_stack(prefix="shipway-bench-canary-", max_connections=args.max_in_flight + 5) as stack:
        print(f"  stack up (PostgreSQL, Temporal dev server) in {stack.up_s:.1f} s; workers and gateway ready at {stack.ready_s:.1f} s")
        from tests.support.lifecycle import counting_spec, deploy

        t0 = time.perf_counter()
        name, stable = await deploy(stack.client, stack.db, counting_spec())
        print(f"  stable {name} v{stable} live (AllAtOnce) {time.perf_counter() - t0:.1f} s after submit")
        seq = [0]
        await scenario(stack, name, stable, "BAD canary", {"fail_ratio": args.fail_ratio}, args.bake_s, args, seq)
        if args.healthy:
            await scenario(stack, name, stable, "HEALTHY canary", {"fail_ratio": 0.0}, args.healthy_bake_s, args, seq)
    print(f"\n  done in {time.perf_counter() - started:.0f} s ({quiet.dropped} worker warnings of the runs failed on purpose, "
          f"CountingFailure, left out of this output)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=5.0, help="requests per second through the gateway")
    ap.add_argument("--bake-s", type=float, default=30.0, help="wall-clock bake of each canary step of the bad version, s")
    ap.add_argument("--fail-ratio", type=float, default=0.3, help="share of the bad version's runs that fail (by seq)")
    ap.add_argument("--max-in-flight", type=int, default=10, help="requests in flight at most")
    ap.add_argument("--lead-s", type=float, default=2.0, help="traffic before the approval, s")
    ap.add_argument("--tail-s", type=float, default=5.0, help="traffic after the lifecycle settled, s")
    ap.add_argument("--healthy-bake-s", type=float, default=20.0, help="wall-clock bake of each step of the healthy version, s")
    ap.add_argument("--no-healthy", dest="healthy", action="store_false", help="skip the healthy version")
    args = ap.parse_args()
    asyncio.run(main(args))
    sys.stdout.flush()
    os._exit(0)  # the Temporal runtime may abort at interpreter exit (temporalio/sdk-python#300)
