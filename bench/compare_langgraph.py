"""Shipway vs the LangGraph dev server, side by side, on the Credit Underwriting graph; and the floor.

Measures, at each number of runs in flight (default 1, 20 and 100), throughput (runs/s over the
level's wall time, settled runs only) and latency percentiles p50/p95/p99 (ms, per request, settled
runs only) of one *first pass* of the credit graph per German Credit application (the same
applications, in the same order, on every side):

- **shipway**: the running stack's gateway, ``POST /v1/agents/credit-underwriting/runs?wait=true``
  (a new thread per run; Temporal workflow, worker, encrypted Postgres checkpoints). A run counts as
  done when it settles: ``succeeded``, or ``interrupted`` at the underwriter referral, which is not
  resumed.
- **langgraph dev**: ``langgraph dev --no-browser --no-reload`` (in-memory runtime) serving the same
  graph (:mod:`bench.langgraph_server.credit_graph`), driven with the official ``langgraph_sdk``
  client: ``runs.wait`` as a *threadless* run (one request per run, like Shipway's; the server makes
  and drops a thread per run) that returns at the referral interrupt as well. The server keeps its
  own defaults, under which it executes one run at a time (its ``--help`` says 10; the bench prints
  what the server reports); ``--langgraph-jobs`` sets ``--n-jobs-per-worker``.
- **floor**: the same graph in this process with ``AsyncPostgresSaver`` alone on the stack's
  PostgreSQL (:mod:`bench.langgraph_server.floor`), twice: ``durability="async"`` (LangGraph's
  default, a checkpoint per step) and ``durability="exit"``. In-process because it has no server to
  reach: the graph and its checkpoint writes are all the work, and a subprocess would only add a
  process start and a way to pass results back.

Each side gets a warm-up first (not measured). A failure is a non-2xx answer, an exception, or a
run ending in any other status; the first failure's message is printed. Rows also show how many
runs stopped at the interrupt, a check that every side did the same work. The ratios compare
Shipway with the LangGraph dev server: runs/s (above 1: Shipway serves more) and p95 (below 1:
Shipway's tail is shorter).

Needs: the local stack up with the agent live (``shipway up``; ``make demo`` leaves
``credit-underwriting`` live). The LangGraph server cannot share the main venv (langgraph-api pins
jsonschema-rs 0.44, schemathesis needs 0.60): on first use it is installed into the overlay venv
``.venv-langgraph/`` (:mod:`bench.langgraph_server.overlay`), reused afterwards.

Run: ``make bench-langgraph`` or ``.venv/bin/python -m bench.compare_langgraph`` (about 3 minutes);
``--levels 1,20 --runs 50`` for a short run; ``--skip-langgraph`` / ``--skip-floor`` to leave parts out.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import httpx
from langgraph_sdk.client import LangGraphClient

from bench._common import pct
from bench.langgraph_server.dev_server import GRAPH_ID, langgraph_dev, worker_slots
from bench.langgraph_server.floor import open_floor
from bench.langgraph_server.overlay import OVERLAY_DIR, ensure_overlay
from reference_agents.credit_underwriting import AGENT
from shipway.settings import get_settings

AGENT_NAME = "credit-underwriting"
SETTLED = {"succeeded", "interrupted"}
REQUEST_TIMEOUT_S = 300.0

# One first pass of the graph for one input; returns the settled status, raises on any failure.
RunCall = Callable[[dict], Awaitable[str]]


class RunFailed(RuntimeError):
    """A run answered but did not settle (non-2xx, or a status other than succeeded/interrupted)."""


class SideUnavailable(RuntimeError):
    """No warm-up run of a side settled, so its levels would measure nothing but failures."""


@dataclass
class Level:
    """One side at one number of runs in flight.

    Attributes:
        side: label printed in the table.
        in_flight: most runs in flight at once.
        runs: runs started.
        wall_s: seconds from the first start to the last end.
        latencies_ms: per settled run, request to answer, milliseconds.
        interrupted: settled runs that stopped at the interrupt.
        failures: runs that did not settle; ``first_failure`` is the first one's message.
    """

    side: str
    in_flight: int
    runs: int
    wall_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    interrupted: int = 0
    failures: int = 0
    first_failure: str = ""

    @property
    def runs_per_s(self) -> float:
        """Settled runs per second of wall time."""
        return len(self.latencies_ms) / self.wall_s if self.wall_s else 0.0

    def p(self, q: float) -> float:
        """The ``q``-th latency percentile (ms); NaN without a settled run."""
        return pct(self.latencies_ms, q) if self.latencies_ms else float("nan")


async def measure(side: str, call: RunCall, inputs: list[dict], in_flight: int, runs: int) -> Level:
    """``runs`` calls of ``call`` on ``inputs`` (cycled from the first), at most ``in_flight`` at once."""
    level = Level(side, in_flight, runs)
    sem = asyncio.Semaphore(in_flight)

    async def one(i: int) -> None:
        async with sem:
            t0 = time.perf_counter()
            try:
                status = await call(inputs[i % len(inputs)])
            except Exception as exc:  # every failure is counted and the run goes on, as a load test does
                level.failures += 1
                level.first_failure = level.first_failure or f"{type(exc).__name__}: {str(exc)[:200]}"
                return
            level.latencies_ms.append((time.perf_counter() - t0) * 1000)
            level.interrupted += status == "interrupted"

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(runs)))
    level.wall_s = time.perf_counter() - t0
    return level


async def measure_side(side: str, call: RunCall, inputs: list[dict], plan: list[tuple[int, int]], warmup: int) -> list[Level]:
    """A warm-up of ``warmup`` runs on the last applications of ``inputs`` (at most 10 in flight, not
    measured), then each ``(in_flight, runs)`` of ``plan`` in turn; prints each level as it finishes.

    Raises:
        SideUnavailable: every warm-up run failed (the message names the first failure).
    """
    if warmup:
        warm = await measure(side, call, inputs[-warmup:], min(10, warmup), warmup)
        if not warm.latencies_ms:
            raise SideUnavailable(f"{side}: none of {warmup} warm-up runs settled; first failure: {warm.first_failure}")
    levels = []
    for in_flight, runs in plan:
        levels.append(level := await measure(side, call, inputs, in_flight, runs))
        print(f"  {side:<22} {in_flight:>3} in flight: {level.runs_per_s:6.1f} runs/s  p95 {level.p(95):8.0f} ms  "
              f"failures {level.failures}", flush=True)
    return levels


def shipway_call(http: httpx.AsyncClient) -> RunCall:
    """A run through the gateway with ``?wait=true``; a new thread per run."""
    async def run(inp: dict) -> str:
        r = await http.post(f"/v1/agents/{AGENT_NAME}/runs?wait=true", json={"input": inp})
        if not r.is_success:
            raise RunFailed(f"HTTP {r.status_code} {r.text[:150]}")
        body = r.json()
        if body["status"] not in SETTLED:
            raise RunFailed(f"run {body['run_id']} ended {body['status']}: {body.get('error')}")
        return body["status"]

    return run


def langgraph_call(client: LangGraphClient) -> RunCall:
    """A threadless ``runs.wait`` on the LangGraph server (raises the server's error if the run failed)."""
    async def run(inp: dict) -> str:
        out = await client.runs.wait(None, GRAPH_ID, input=inp)
        if not isinstance(out, dict):
            raise RunFailed(f"unexpected answer {str(out)[:150]}")
        return "interrupted" if "__interrupt__" in out else "succeeded"

    return run


def _limits(plan: list[tuple[int, int]]) -> httpx.Limits:
    # a kept-alive connection per run in flight on both sides, so neither pays for reconnecting
    most = max(in_flight for in_flight, _ in plan)
    return httpx.Limits(max_connections=most, max_keepalive_connections=most)


async def run_shipway(inputs: list[dict], plan: list[tuple[int, int]], warmup: int) -> list[list[Level]]:
    """The Shipway side on the running stack's gateway (admin key from the settings).

    Raises:
        SideUnavailable: no warm-up run settled (the message says to check the stack).
    """
    settings = get_settings()
    async with httpx.AsyncClient(base_url=settings.resolved_gateway_url(), headers=settings.auth_headers(),
                                 timeout=REQUEST_TIMEOUT_S, limits=_limits(plan)) as http:
        try:
            return [await measure_side("shipway", shipway_call(http), inputs, plan, warmup)]
        except SideUnavailable as exc:
            raise SideUnavailable(f"{exc} (is the stack up and {AGENT_NAME} live? `make demo`)") from None


async def run_langgraph(bin_dir: Path, jobs: int | None, inputs: list[dict], plan: list[tuple[int, int]],
                        warmup: int) -> list[list[Level]]:
    """The LangGraph dev server side: the server started from the overlay venv ``bin_dir`` for its length.

    Raises:
        SideUnavailable: no warm-up run settled.
        ServerStartError: the server did not come up.
    """
    with langgraph_dev(bin_dir, jobs) as url:
        # `langgraph dev` without --n-jobs-per-worker executes one run at a time (its help says 10)
        print(f"  serving at {url}, executing {worker_slots(url)} run(s) at once", flush=True)
        async with LangGraphClient(httpx.AsyncClient(base_url=url, timeout=REQUEST_TIMEOUT_S, limits=_limits(plan))) as client:
            return [await measure_side("langgraph dev", langgraph_call(client), inputs, plan, warmup)]


async def run_floor(inputs: list[dict], plan: list[tuple[int, int]], warmup: int) -> list[list[Level]]:
    """The floor, ``durability="async"`` then ``"exit"``.

    Raises:
        SideUnavailable: no warm-up run settled.
    """
    async with open_floor(get_settings().resolved_database_url()) as floor:
        return [await measure_side(f"floor ({d})", floor.runner(d), inputs, plan, warmup) for d in ("async", "exit")]


def _version(dist: str, python: str | None = None) -> str:
    """Installed version of ``dist`` here, or in the interpreter ``python`` (the overlay venv)."""
    if python is None:
        try:
            return version(dist)
        except PackageNotFoundError:
            return "not installed"
    out = subprocess.run([python, "-c", f"from importlib.metadata import version; print(version({dist!r}))"],
                         capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else "not installed"


def header(args: argparse.Namespace, plan: list[tuple[int, int]]) -> str:
    """Machine facts, versions and the run plan, a few lines of text."""
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    overlay_python = str(OVERLAY_DIR / "bin" / "python") if (OVERLAY_DIR / "bin" / "python").is_file() else None
    server = "not run" if args.skip_langgraph else (
        f"n_jobs_per_worker {args.langgraph_jobs if args.langgraph_jobs is not None else 'server default'}")
    return "\n".join([
        f"machine   {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, Python {platform.python_version()}, "
        f"load average at start {' '.join(f'{x:.2f}' for x in os.getloadavg())} (other work on the machine skews results)",
        f"versions  langgraph {_version('langgraph')}, langgraph-checkpoint-postgres {_version('langgraph-checkpoint-postgres')}, "
        f"temporalio {_version('temporalio')}, langgraph-sdk {_version('langgraph-sdk')}, "
        f"langgraph-api {_version('langgraph-api', overlay_python) if overlay_python else 'not installed'}, "
        f"langgraph-runtime-inmem {_version('langgraph-runtime-inmem', overlay_python) if overlay_python else 'not installed'}",
        f"plan      (in flight, runs): {', '.join(f'({f}, {n})' for f, n in plan)}; warm-up {args.warmup} runs per side; "
        f"langgraph dev: {server}",
    ])


def table(sides: list[list[Level]]) -> str:
    """All levels of all sides, grouped by level, with Shipway's ratios to the LangGraph server."""
    cols = f"{'in flight':>9}  {'side':<15} {'runs':>5} {'intr':>5} {'fail':>5} {'runs/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
    lines = [cols, "-" * len(cols)]
    failures = []
    for i in range(len(sides[0])):
        row = {levels[i].side: levels[i] for levels in sides}
        for lv in row.values():
            lines.append(f"{lv.in_flight:>9}  {lv.side:<15} {lv.runs:>5} {lv.interrupted:>5} {lv.failures:>5} "
                         f"{lv.runs_per_s:>8.1f} {lv.p(50):>8.0f} {lv.p(95):>8.0f} {lv.p(99):>8.0f}")
            if lv.failures:
                failures.append(f"{lv.side} at {lv.in_flight} in flight, first failure: {lv.first_failure}")
        ship, lg = row.get("shipway"), row.get("langgraph dev")
        if ship and lg and lg.runs_per_s and lg.latencies_ms and ship.latencies_ms:
            lines.append(f"{'':>9}  shipway / langgraph dev: runs/s x{ship.runs_per_s / lg.runs_per_s:.2f}, "
                         f"p95 x{ship.p(95) / lg.p(95):.2f}")
        lines.append("")
    return "\n".join(lines + failures)


async def main(args: argparse.Namespace) -> None:
    """Run the sides ``args`` asks for and print the header, progress and the table."""
    # SIGTERM (e.g. from `timeout`) ends the run as Ctrl-C does: cancelled, so the LangGraph server is stopped
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)
    plan = list(zip(args.levels, args.runs * len(args.levels) if len(args.runs) == 1 else args.runs))
    inputs = AGENT.sample_inputs(1000)
    bin_dir = None if args.skip_langgraph else ensure_overlay()  # before the header, which reads its versions
    print(header(args, plan), flush=True)
    parts = [("shipway (gateway of the running stack)", args.skip_shipway, lambda: run_shipway(inputs, plan, args.warmup)),
             ("langgraph dev (starting the server)", args.skip_langgraph,
              lambda: run_langgraph(bin_dir, args.langgraph_jobs, inputs, plan, args.warmup)),
             ("floor (AsyncPostgresSaver alone, in this process)", args.skip_floor, lambda: run_floor(inputs, plan, args.warmup))]
    sides: list[list[Level]] = []
    for title, skip, run in parts:
        if skip:
            continue
        print(f"{title} ...", flush=True)
        try:
            sides.extend(await run())
        except SideUnavailable as exc:  # the other sides still run and are compared
            print(f"  left out: {exc}", flush=True)
    if sides:
        print()
        print(table(sides))


def _ints(text: str) -> list[int]:
    values = [int(v) for v in text.split(",")]
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError("every value must be a positive integer")
    return values


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see ``--help``).

    Raises:
        SystemExit: bad flags, or ``--runs`` neither one value nor one per level.
    """
    ap = argparse.ArgumentParser(prog="python -m bench.compare_langgraph", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--levels", type=_ints, default="1,20,100", help="runs in flight, comma-separated")
    ap.add_argument("--runs", type=_ints, default="30,200,500",
                    help="runs measured per level: one value for every level, or one per level")
    ap.add_argument("--warmup", type=int, default=20, help="unmeasured runs per side before its levels")
    ap.add_argument("--langgraph-jobs", type=int, default=None,
                    help="the dev server's --n-jobs-per-worker (runs it executes at once); None keeps the server's own")
    ap.add_argument("--skip-shipway", action="store_true", help="leave out the Shipway side")
    ap.add_argument("--skip-langgraph", action="store_true", help="leave out the LangGraph dev server")
    ap.add_argument("--skip-floor", action="store_true", help="leave out the AsyncPostgresSaver floor")
    args = ap.parse_args(argv)
    if len(args.runs) not in (1, len(args.levels)):
        ap.error(f"--runs: give one value or {len(args.levels)} (one per level), not {len(args.runs)}")
    return args


if __name__ == "__main__":
    try:
        asyncio.run(main(parse_args()))
    except (KeyboardInterrupt, asyncio.CancelledError):  # Ctrl-C or SIGTERM; the server was stopped on the way out
        raise SystemExit(130) from None
