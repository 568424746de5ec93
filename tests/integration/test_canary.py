"""Canary rollouts judged on evidence (issue 12), on a real Temporal server and PostgreSQL with
scaled bake times: a stable version serves, a new one rolls out at 30-50% under steady traffic
(``pick_version`` + ``start_run``), and each analysis compares its runs with the stable version's in
the same window. A healthy canary goes live; one that fails, costs or violates its guardrails too
much is rolled back with a reason naming the metric; too little evidence keeps the step baking and
finally fails safe; operators' signals are audited with their actor; a conversation (thread) stays
on the version that served it while that version has traffic.

The counting test agent misbehaves through its spec ``config`` (``fail_ratio``, ``violate_ratio``,
``llm_tokens``), deterministically per run input ``seq``. The tests assert outcomes (statuses,
stored analyses, audit events, routing), never how long anything took.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import defaultdict
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
from langgraph_sdk.client import LangGraphClient
from sqlmodel import select
from temporalio.service import RPCError

from shipway import control, queries
from shipway.db.models import LlmUsage
from shipway.gateway.app import create_app
from shipway.settings import get_settings
from tests.support.keys import make_key
from tests.support.lifecycle import APPROVER, counting_spec, deploy, submit, wait_for_step
from workflows.statuses import ApprovalKind, DeploymentState, LifecycleStep, RunStatus, VersionStatus
from workflows.runbook_types import RunbookState, runbook_workflow_id
from workflows.statuses import Runbook, RunbookStatus, RunbookStepStatus, RunbookTrigger
from workflows.types import DeploymentProgress, deployment_workflow_id

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Bakes of 300 s scaled to 3 s; an analysis judges from MIN_RUNS runs on (see SEQ_STRIDE).
BAKE_S, BAKE_SCALE = 300, "0.01"
MIN_RUNS = 16
# p99 latency is not under test here: the p99 of a handful of runs is their maximum, and a single run
# slowed by the machine's load would breach a 1.5 x ratio; these only keep it out of the way.
LATENCY = {"max_p99_ratio": 50.0, "max_p99_ms": 60_000.0}
# An inconclusive step bakes again while the traffic brings the runs (the window grows each time).
PATIENT = {"max_inconclusive": 10}
# ``seq`` of a version's k-th run is k * SEQ_STRIDE: coprime with 100, so every 100 consecutive runs
# of a version hit a ratio exactly and the hits are spread (at least 4 of any 16 runs hit 0.3).
SEQ_STRIDE = 43
IN_FLIGHT = 3
STABLE_CONFIG = {"llm_tokens": 1000}  # every run of the stable version costs the same, through llm_usage
SETTLE_TIMEOUT_S = 150  # only a guard against a hang, never an assertion


def steps(weight_pct: float, bake_s: float = BAKE_S) -> list[dict]:
    """A canary step of ``weight_pct`` baking ``bake_s`` (before scaling), then 100%."""
    return [{"weight_pct": weight_pct, "bake_s": bake_s}, {"weight_pct": 100}]


@dataclass(frozen=True)
class Served:
    """One run of the traffic: the version picked, its status, and whether it was picked after the
    rollout had settled."""

    version: int
    status: str
    after_settled: bool


class Traffic:
    """Steady traffic to ``name`` while it is used as an async context manager: ``IN_FLIGHT`` loops
    each picking a version by the live weights (``pick_version``) and running it to its end
    (``start_run(wait=True)``), ``seq`` advancing per version. After :meth:`settled` it serves
    ``runs_after`` more runs, then stops."""

    def __init__(self, client, db, name: str, runs_after: int = 0, max_runs: int = 600) -> None:
        self.client, self.db, self.name = client, db, name
        self.served: list[Served] = []
        self._runs_after, self._max_runs = runs_after, max_runs
        self._next: dict[int, int] = defaultdict(int)
        self._settled = False
        self._after = 0
        self._started = 0
        self._tasks: list[asyncio.Task] = []

    def settled(self) -> None:
        """The rollout has settled: serve ``runs_after`` more runs from now on, then stop."""
        self._settled = True

    def _more(self) -> bool:
        if self._started >= self._max_runs:
            return False
        return not self._settled or self._after < self._runs_after

    async def _loop(self) -> None:
        while self._more():
            after = self._settled
            self._started += 1
            self._after += after
            version = await control.pick_version(self.db, self.name)
            seq = self._next[version] * SEQ_STRIDE
            self._next[version] += 1
            _, result = await control.start_run(self.client, self.name, version, {"log_path": os.devnull, "seq": seq}, wait=True)
            self.served.append(Served(version, str(result.status), after))

    async def __aenter__(self) -> Traffic:
        self._tasks = [asyncio.create_task(self._loop()) for _ in range(IN_FLIGHT)]
        return self

    async def __aexit__(self, exc_type, *exc) -> None:
        if exc_type is not None:  # stop after the runs in flight
            self._runs_after = self._after
        self.settled()
        await asyncio.gather(*self._tasks)


@pytest.fixture
def bake_scale(settings_env, monkeypatch):
    """Bake times scaled by :data:`BAKE_SCALE` for versions submitted in the test."""
    monkeypatch.setenv("SHIPWAY_BAKE_TIME_SCALE", BAKE_SCALE)
    get_settings.cache_clear()
    assert get_settings().bake_time_scale == float(BAKE_SCALE)


# The stable agent the tests share (its spec): each canary test adds a version to it. Deploying an
# agent takes most of a test's time (scaffolding runs the generated package's tests), and every
# canary either rolls back (the stable one keeps serving) or goes live with the stable's config.
_SHARED: dict[str, dict] = {}


async def _clean(db, name: str) -> int | None:
    """The live version of ``name`` when it alone has traffic and no other version is on its way."""
    weights = await _weights(db, name)
    versions = await db.read(queries.versions, name)
    live = [v.version for v in versions if v.status == VersionStatus.LIVE]
    if len(live) == 1 and weights == {live[0]: 100.0} and not any(VersionStatus(v.status).in_progress for v in versions):
        return live[0]
    return None


@pytest_asyncio.fixture(loop_scope="session")
async def stable(worker, db) -> tuple[dict, int]:
    """A live agent with :data:`STABLE_CONFIG` and nothing else rolling out: the shared one when it
    is in that state, else a new one (AllAtOnce). Returns its spec and live version."""
    spec = _SHARED.get("spec")
    if spec is not None and (live := await _clean(db, spec["name"])) is not None:
        return spec, live
    spec = counting_spec(config=STABLE_CONFIG)
    _, live = await deploy(worker, db, spec)
    _SHARED["spec"] = spec
    return spec, live


async def _canary(worker, db, stable_spec: dict, config: dict, steps: list[dict], **thresholds) -> int:
    """Submit a version of ``stable_spec``'s agent with ``config``, rolled out by ``steps`` and judged
    with :data:`MIN_RUNS` and ``thresholds``; approve it. Returns the version."""
    spec = {**stable_spec, "config": config, "deployment": {"strategy": "Custom", "steps": steps,
                                                             "thresholds": {"min_runs": MIN_RUNS, **LATENCY, **thresholds}}}
    name, version = await submit(worker, db, spec)
    await wait_for_step(worker, name, version, LifecycleStep.APPROVAL)
    await control.decide(worker, name, version, ApprovalKind.APPROVE, APPROVER, "canary test")
    return version


async def _progress(client, name: str, version: int, until) -> DeploymentProgress:
    """Poll the rollout's ``progress`` query until ``until(progress)``."""
    async def poll() -> DeploymentProgress:
        while True:
            try:
                p = await control.deployment_progress(client, name, version)
                if until(p):
                    return p
            except RPCError:  # the rollout has not started yet
                pass
            await asyncio.sleep(0.1)
    return await asyncio.wait_for(poll(), SETTLE_TIMEOUT_S)


async def _weights(db, name: str) -> dict[int, float]:
    return {w.version: w.weight_pct for w in await db.read(queries.traffic, name)}


async def _settle(worker, name: str, version: int):
    return await asyncio.wait_for(control.wait_lifecycle(worker, name, version), SETTLE_TIMEOUT_S)


async def _analyses(db, name: str, version: int) -> list:
    return await db.read(queries.deployment_analyses, deployment_workflow_id(name, version))


async def _audit(db, name: str, version: int, prefix: str) -> list:
    return await db.read(queries.audit_events, f"agent:{name}:v{version}", prefix)


async def _under_traffic(worker, db, stable: tuple[dict, int], config: dict, weight_pct: float, runs_after: int = 0):
    """A canary with ``config`` at ``weight_pct`` against ``stable`` under steady traffic until its
    lifecycle settles (then ``runs_after`` more runs). Returns ``(name, canary, settled status,
    traffic, analyses)``."""
    spec, _ = stable
    name = spec["name"]
    canary = await _canary(worker, db, spec, config, steps(weight_pct), **PATIENT)
    async with Traffic(worker, db, name, runs_after=runs_after) as traffic:
        settled = await _settle(worker, name, canary)
        traffic.settled()
    return name, canary, settled, traffic, await _analyses(db, name, canary)


def _llm_usage(s, run_id: str) -> list[LlmUsage]:
    return list(s.exec(select(LlmUsage).where(LlmUsage.run_id == run_id)).all())


def _metrics(analysis) -> dict[str, str]:
    return {m["metric"]: m["verdict"] for m in analysis.metrics}


async def _assert_rolled_back(db, name: str, stable: int, canary: int, settled, reason: str):
    """``canary`` ended rolled back with a reason starting ``reason``, and only ``stable`` has traffic;
    returns the rollout's analyses, the last of them the breach and every earlier one short of runs."""
    assert settled.status == VersionStatus.ROLLED_BACK, settled
    assert settled.detail.startswith(reason), settled.detail
    row = await db.read(queries.agent_version, name, canary)
    assert (row.status, row.status_detail) == (VersionStatus.ROLLED_BACK, settled.detail)
    assert await _weights(db, name) == {stable: 100.0}
    assert (await db.read(queries.agent_version, name, stable)).status == VersionStatus.LIVE
    [deployment] = [d for d in await db.read(queries.deployments, name) if d.version == canary]
    assert (deployment.status, deployment.weight_pct) == (DeploymentState.ROLLED_BACK, 0.0)
    analyses = await _analyses(db, name, canary)
    *before, breach = analyses
    # rolled back at the first analysis with enough runs; the window grows from the step's start
    assert breach.verdict == "breach" and breach.reasons and breach.reasons[0].startswith(reason), breach.reasons
    assert "; ".join(breach.reasons) == settled.detail
    assert all(a.verdict == "inconclusive" and a.canary["finished"] < MIN_RUNS for a in before), [a.canary for a in before]
    assert [a.analysis_index for a in analyses] == list(range(1, len(analyses) + 1))
    assert {a.window_start for a in analyses} == {breach.window_start}
    assert (breach.version, breach.baseline_version, breach.step_index) == (canary, stable, 0)
    return breach


# -- 1. a healthy canary ------------------------------------------------------------------------------
async def test_a_healthy_canary_passes_its_analysis_and_goes_live(worker, db, bake_scale, stable):
    # 30%: the stable version has the runs to compare costs with once the canary has its own
    name, canary, settled, traffic, analyses = await _under_traffic(worker, db, stable, STABLE_CONFIG, 30)
    assert settled.status == VersionStatus.LIVE, settled
    assert await _weights(db, name) == {canary: 100.0}
    assert (await db.read(queries.agent_version, name, stable[1])).status == VersionStatus.SUPERSEDED
    *before, last = analyses
    assert last.verdict == "pass" and last.reasons == [], (last.verdict, last.reasons)
    assert all(a.verdict == "inconclusive" and a.canary["finished"] < MIN_RUNS for a in before)
    assert (last.version, last.baseline_version, last.step_index, last.weight_pct) == (canary, stable[1], 0, 30.0)
    assert last.canary["finished"] >= MIN_RUNS and last.canary["failed"] == 0 and last.canary["violations"] == 0
    assert _metrics(last) == {"error_rate": "pass", "p99_latency": "pass", "violation_rate": "pass",
                              "cost_per_run": "pass" if last.baseline["finished"] >= MIN_RUNS else "not_judged"}
    # the same real, priced LLM usage per run on both versions
    cost = last.canary["cost_per_run_usd"]
    assert cost > 0 and cost == pytest.approx(last.baseline["cost_per_run_usd"])
    assert {s.version for s in traffic.served} == {stable[1], canary}
    assert all(s.status == RunStatus.SUCCEEDED for s in traffic.served)
    assert [e.detail["deployment"] for e in await _audit(db, name, canary, "lifecycle.deployed")] == ["succeeded"]


# -- 2. errors -----------------------------------------------------------------------------------------
async def test_a_canary_failing_30_percent_of_its_runs_is_rolled_back_on_error_rate(worker, db, bake_scale, stable):
    name, canary, settled, traffic, _ = await _under_traffic(worker, db, stable, {**STABLE_CONFIG, "fail_ratio": 0.3}, 50,
                                                             runs_after=6)
    breach = await _assert_rolled_back(db, name, stable[1], canary, settled, "ERROR_RATE")
    assert breach.canary["finished"] >= MIN_RUNS and 0.2 <= breach.canary["error_rate"] <= 0.4, breach.canary
    assert _metrics(breach)["error_rate"] == "breach" and "significantly > 5.0%" in breach.reasons[0]
    assert f"({breach.canary['failed']}/{breach.canary['finished']} runs" in breach.reasons[0]
    # the stable version never failed; after the rollback every request went to it
    assert all(s.status == RunStatus.SUCCEEDED for s in traffic.served if s.version == stable[1])
    assert {s.status for s in traffic.served if s.version == canary} == {RunStatus.SUCCEEDED, RunStatus.FAILED}
    after = [s for s in traffic.served if s.after_settled]
    assert len(after) == 6 and {s.version for s in after} == {stable[1]}
    picks = [await control.pick_version(db, name) for _ in range(20)]
    assert set(picks) == {stable[1]}


# -- 3. cost -------------------------------------------------------------------------------------------
async def test_a_canary_costing_three_times_as_much_per_run_is_rolled_back_on_cost(worker, db, bake_scale, stable):
    # 30%: the stable version has the runs to compare with once the canary has its own
    name, canary, settled, traffic, _ = await _under_traffic(worker, db, stable, {"llm_tokens": 3000}, 30)
    breach = await _assert_rolled_back(db, name, stable[1], canary, settled, "COST_PER_RUN")
    assert _metrics(breach) == {"error_rate": "pass", "p99_latency": "pass", "violation_rate": "pass", "cost_per_run": "breach"}
    assert breach.canary["cost_per_run_usd"] == pytest.approx(3 * breach.baseline["cost_per_run_usd"])
    assert breach.baseline["finished"] >= MIN_RUNS and breach.baseline["cost_per_run_usd"] > 0
    assert "> 1.5 x stable" in breach.reasons[0] and f"${breach.canary['cost_per_run_usd']:.4f}" in breach.reasons[0]
    # the cost comes from Shipway's own usage records, priced from model_prices
    runs = [r for r in await db.read(queries.runs, name) if r.version == canary]
    assert runs and all((r.tokens_in, r.tokens_out) == (3000, 3000) for r in runs)
    usage = await db.read(_llm_usage, runs[0].id)
    assert [(u.model, u.tokens_in, u.tokens_out) for u in usage] == [("gpt-4o-mini", 3000, 3000)]
    prices = await db.read(queries.model_prices)
    assert runs[0].cost_usd == pytest.approx(usage[0].cost_usd) == pytest.approx(3000 * sum(prices["gpt-4o-mini"]) / 1e6)
    assert all(s.status == RunStatus.SUCCEEDED for s in traffic.served)


# -- 4. guardrail violations -----------------------------------------------------------------------------
async def test_a_canary_whose_outputs_are_withheld_more_often_is_rolled_back_on_violations(worker, db, bake_scale, stable):
    name, canary, settled, traffic, _ = await _under_traffic(worker, db, stable, {**STABLE_CONFIG, "violate_ratio": 0.3}, 50)
    breach = await _assert_rolled_back(db, name, stable[1], canary, settled, "VIOLATION_RATE")
    assert _metrics(breach)["violation_rate"] == "breach" and _metrics(breach)["error_rate"] != "breach"
    assert breach.canary["runs"] >= MIN_RUNS and 0.2 <= breach.canary["violation_rate"] <= 0.4, breach.canary
    assert breach.canary["violations"] == breach.canary["runs"] - breach.canary["finished"]
    assert f"({breach.canary['violations']}/{breach.canary['runs']} runs" in breach.reasons[0]
    # the canary's violations are runs the output guard withheld; the stable version had none
    assert {s.status for s in traffic.served if s.version == canary} == {RunStatus.SUCCEEDED, RunStatus.WITHHELD}
    assert {s.status for s in traffic.served if s.version == stable[1]} == {RunStatus.SUCCEEDED}
    withheld = [r for r in await db.read(queries.runs, name, RunStatus.WITHHELD) if r.version == canary]
    guard = {g.stage: g for g in await db.read(queries.guard_results, withheld[0].id)}["output"]
    assert (guard.verdict, guard.detail) == ("withheld", "a declined decision must carry reasons")


# -- 5. too little evidence ----------------------------------------------------------------------------
async def test_too_few_runs_keep_the_step_baking_and_no_traffic_at_all_rolls_back_fail_safe_and_starts_the_failed_deployment_runbook(
        auto_runbooks, worker, db, bake_scale, stable):
    spec, v1 = stable
    name = spec["name"]
    canary = await _canary(worker, db, spec, STABLE_CONFIG, steps(50, bake_s=200), max_inconclusive=1)
    await _progress(worker, name, canary, lambda p: p.weight_pct == 50.0)
    for seq in range(2):  # two runs, far from MIN_RUNS; then nothing
        _, result = await control.start_run(worker, name, canary, {"log_path": os.devnull, "seq": seq}, wait=True)
        assert result.status == RunStatus.SUCCEEDED
    settled = await _settle(worker, name, canary)
    assert settled.status == VersionStatus.ROLLED_BACK, settled
    assert settled.detail.startswith("INCONCLUSIVE after 2 analyses: too few runs to judge"), settled.detail
    assert settled.detail.endswith(f"{MIN_RUNS} needed); failing safe")
    assert (await db.read(queries.agent_version, name, canary)).status == VersionStatus.ROLLED_BACK
    assert await _weights(db, name) == {v1: 100.0}
    # an inconclusive analysis, the step baked again (same window, growing), another, then the rollback
    first, second = await _analyses(db, name, canary)
    assert (first.verdict, second.verdict) == ("inconclusive", "inconclusive")
    assert (first.analysis_index, second.analysis_index) == (1, 2) and first.window_start == second.window_start
    assert second.analysed_at > first.analysed_at and first.reasons == second.reasons == []
    assert first.canary["runs"] <= 2 and second.canary["runs"] <= 2
    assert _metrics(first)["error_rate"] == "inconclusive" and f"needs {MIN_RUNS} finished runs" in first.metrics[0]["threshold"]
    [extension] = await _audit(db, name, canary, "deployment.inconclusive")
    assert (extension.detail["step"], extension.detail["extension"]) == (0, 1)
    assert extension.detail["canary_runs"] == first.canary["runs"]
    [rolled_back] = await _audit(db, name, canary, "deployment.rolled_back")
    assert rolled_back.detail["why"] == settled.detail
    # the rollback started the Failed Deployment runbook by itself; it explains the rollback and,
    # the canary serving nothing any more, has nothing to change
    report = await asyncio.wait_for(worker.get_workflow_handle(
        runbook_workflow_id(Runbook.FAILED_DEPLOYMENT, f"{name}:v{canary}"), result_type=RunbookState).result(), SETTLE_TIMEOUT_S)
    assert (report.trigger, report.status, report.params["version"]) == (RunbookTrigger.CANARY_ROLLBACK, RunbookStatus.COMPLETED, canary)
    why = next(s for s in report.steps if s.name == "why it rolled back").findings
    assert (why["why"], why["stable_version"], why["traffic_now"]) == (settled.detail, v1, {str(v1): 100.0})
    assert [s.status for s in report.steps if s.kind == "remediation"] == [RunbookStepStatus.NOT_NEEDED]


# -- 6. operators' signals ------------------------------------------------------------------------------
async def test_pause_promote_and_resume_are_audited_with_their_actor_and_pause_holds_the_next_step(worker, db, stable):
    """Bakes of 600 s (unscaled): only ``promote`` ends them. ``abort``: see the sticky-routing test."""
    spec, v1 = stable
    name = spec["name"]
    canary = await _canary(worker, db, spec, STABLE_CONFIG, [{"weight_pct": 50, "bake_s": 600},
                                                              {"weight_pct": 75, "bake_s": 600}, {"weight_pct": 100}])
    await _progress(worker, name, canary, lambda p: p.weight_pct == 50.0)
    await control.signal_deployment(worker, name, canary, "pause", "pat.pauser@bank.example")
    await control.signal_deployment(worker, name, canary, "promote", "pam.promoter@bank.example")
    # promote ended the bake; the pause holds the rollout before its next step (75%)
    held = await _progress(worker, name, canary, lambda p: p.state == DeploymentState.PAUSED)
    assert (held.step_index, held.weight_pct) == (1, 50.0)
    assert await _weights(db, name) == {v1: 50.0, canary: 50.0}

    async def recorded_paused() -> None:  # the query shows the state a moment before the row has it
        while [d.status for d in await db.read(queries.deployments, name) if d.version == canary] != [DeploymentState.PAUSED]:
            await asyncio.sleep(0.1)

    await asyncio.wait_for(recorded_paused(), SETTLE_TIMEOUT_S)
    assert (await control.lifecycle_status(worker, name, canary)).status == VersionStatus.DEPLOYING
    await control.signal_deployment(worker, name, canary, "resume", "rita.resumer@bank.example")
    settled = await _settle(worker, name, canary)
    assert settled.status == VersionStatus.LIVE, settled
    assert await _weights(db, name) == {canary: 100.0}
    signals = {e.action: e for e in await _audit(db, name, canary, "deployment.signal.")}
    assert {a: e.actor for a, e in signals.items()} == {
        "deployment.signal.pause": "pat.pauser@bank.example", "deployment.signal.promote": "pam.promoter@bank.example",
        "deployment.signal.resume": "rita.resumer@bank.example"}
    weights = [e.detail["weights"] for e in await _audit(db, name, canary, "deployment.weights")]
    assert weights == [{str(v1): 50.0, str(canary): 50.0}, {str(v1): 25.0, str(canary): 75.0}, {str(canary): 100.0}]
    with pytest.raises(control.ActionRefused, match="has ended"):
        await control.signal_deployment(worker, name, canary, "abort", "late.larry@bank.example")
    with pytest.raises(ValueError, match="unknown deployment action"):
        await control.signal_deployment(worker, name, canary, "rewind", "x@bank.example")


# -- 7. sticky routing per thread, and abort -----------------------------------------------------------
class _Edge:
    """An ``rng`` for ``pick_version`` drawing the lowest (first version) or the highest (last) value."""

    def __init__(self, high: bool) -> None:
        self.high = high

    def uniform(self, a: float, b: float) -> float:
        return b if self.high else a


LOW, HIGH = _Edge(False), _Edge(True)


async def test_platform_api_runs_are_routed_by_the_canary_and_a_thread_stays_on_its_version(worker, db, stable):
    """The LangGraph Platform API (langgraph-sdk on the gateway) routes as ``/v1`` does: each new
    thread's first run goes to a version the rollout serves, and the thread's later runs stay there."""
    spec, v1 = stable
    name = spec["name"]
    canary = await _canary(worker, db, spec, STABLE_CONFIG, steps(50, bake_s=600))  # unscaled: ends by abort
    await _progress(worker, name, canary, lambda p: p.weight_pct == 50.0)
    app = create_app()
    async with app.router.lifespan_context(app):
        headers = {"x-api-key": await make_key()}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway",
                                     headers=headers, timeout=60) as http:
            sdk = LangGraphClient(http)
            threads = [(await sdk.threads.create())["thread_id"] for _ in range(4)]
            for _ in range(3):
                for thread in threads:
                    await sdk.runs.wait(thread, name, input={"log_path": os.devnull})
    served = defaultdict(list)
    for r in sorted(await db.read(queries.runs, name), key=lambda r: r.started_at):
        if r.thread_id in threads:
            served[r.thread_id].append(r.version)
    assert set(served) == set(threads)
    for versions in served.values():
        assert len(versions) == 3 and versions[0] in (v1, canary) and set(versions) == {versions[0]}, served

    await control.signal_deployment(worker, name, canary, "abort", "abe.aborter@bank.example")
    assert (await _settle(worker, name, canary)).status == VersionStatus.ROLLED_BACK


async def test_a_thread_stays_on_the_version_that_served_it_until_that_version_is_aborted(worker, db, stable):
    spec, v1 = stable
    name = spec["name"]
    canary = await _canary(worker, db, spec, STABLE_CONFIG, steps(50, bake_s=600))  # unscaled: ends by abort
    await _progress(worker, name, canary, lambda p: p.weight_pct == 50.0)
    on_canary, on_stable = f"t-{uuid.uuid4().hex}", f"t-{uuid.uuid4().hex}"

    async def run(thread: str, rng: _Edge) -> int:
        version = await control.pick_version(db, name, rng=rng, thread_id=thread)
        _, result = await control.start_run(worker, name, version, {"log_path": os.devnull}, thread_id=thread, wait=True)
        assert result.status == RunStatus.SUCCEEDED, result
        return version

    # new threads follow the weights (the edge draws pick the last and the first version) ...
    assert await run(on_canary, HIGH) == canary and await run(on_stable, LOW) == v1
    # ... then stay where they were served, whatever the draw
    assert [await run(on_canary, rng) for rng in (LOW, HIGH, LOW)] == [canary] * 3
    assert [await run(on_stable, rng) for rng in (HIGH, LOW, HIGH)] == [v1] * 3
    assert await control.pick_version(db, name, rng=HIGH) == canary  # not sticky without a thread

    await control.signal_deployment(worker, name, canary, "abort", "abe.aborter@bank.example")
    settled = await _settle(worker, name, canary)
    assert (settled.status, settled.detail) == (VersionStatus.ROLLED_BACK, "aborted by operator")
    assert await _weights(db, name) == {v1: 100.0}
    assert [d.status for d in await db.read(queries.deployments, name) if d.version == canary] == [DeploymentState.ABORTED]
    [signal] = await _audit(db, name, canary, "deployment.signal.abort")
    assert signal.actor == "abe.aborter@bank.example"
    assert len(await _audit(db, name, canary, "deployment.aborted")) == 1
    # the canary has lost its traffic: its thread moves to the stable version and stays there
    assert [await run(on_canary, rng) for rng in (HIGH, LOW)] == [v1, v1]
    served = sorted((r.started_at, r.version) for r in await db.read(queries.runs, name) if r.thread_id == on_canary)
    assert [v for _, v in served] == [canary] * 4 + [v1] * 2
