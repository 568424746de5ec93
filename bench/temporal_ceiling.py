"""The ceiling Temporal sets on this machine: runs/s of a workflow that does nothing.

Starts a worker process for :class:`bench.temporal_ceiling_workflow.EmptyRunWorkflow` on its own task
queue against the stack's Temporal server (``shipway up``; or ``TEMPORAL_ADDRESS``), then, at each
number of runs in flight (default 1, 20, 100), starts ``--runs`` workflows with update-with-start
and waits in the ``settled`` update, as Shipway's gateway does with ``?wait=true``. Prints runs/s,
p50/p95/p99 (ms), and the CPU (ms per run, from ``/proc/<pid>/stat``, utime + stime) of the Temporal
server, the worker process and this client process.

No graph, no guard, no database row, no gateway: what it measures is the cost of a run being a
Temporal workflow at all, which bounds any Shipway run from above on the same machine. Run it once
with ``--local-activities 0`` and once with 5 (Shipway's run has five local activities).

Usage: ``python -m bench.temporal_ceiling [--in-flight 1,20,100] [--runs 1000] [--local-activities 0]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.worker import Worker

from bench._common import pct
from bench.temporal_ceiling_workflow import EmptyRunInput, EmptyRunWorkflow, echo

TASK_QUEUE = "bench-temporal-ceiling"
ROOT = Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (``/proc/<pid>/stat`` fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def temporal_server_pid() -> int | None:
    """The pid of the local Temporal dev server, or None (a remote server: its CPU is not shown)."""
    out = subprocess.run(["pgrep", "-f", "temporal server start-dev"], capture_output=True, text=True).stdout.split()
    return int(out[0]) if out else None


async def serve(address: str) -> None:
    """The worker process: runs :class:`EmptyRunWorkflow` until killed."""
    client = await Client.connect(address)
    await Worker(client, task_queue=TASK_QUEUE, workflows=[EmptyRunWorkflow], activities=[echo]).run()


async def level(client: Client, in_flight: int, runs: int, local_activities: int) -> list[float]:
    """Runs ``runs`` empty workflows, ``in_flight`` at a time; returns each one's latency (ms)."""
    gate = asyncio.Semaphore(in_flight)
    latencies: list[float] = []
    payload = "x" * 2048

    async def one() -> None:
        async with gate:
            t0 = time.perf_counter()
            start = WithStartWorkflowOperation(EmptyRunWorkflow.run, EmptyRunInput(payload, local_activities),
                                               id=f"ceiling-{uuid.uuid4()}", task_queue=TASK_QUEUE,
                                               id_conflict_policy=WorkflowIDConflictPolicy.FAIL)
            await client.execute_update_with_start_workflow(EmptyRunWorkflow.settled, start_workflow_operation=start)
            latencies.append((time.perf_counter() - t0) * 1000)

    await asyncio.gather(*(one() for _ in range(runs)))
    return latencies


async def main(args: argparse.Namespace) -> None:
    from shipway.settings import get_settings

    address = os.environ.get("TEMPORAL_ADDRESS") or get_settings().resolved_temporal_address()
    worker = subprocess.Popen([sys.executable, "-m", "bench.temporal_ceiling", "--serve", address], cwd=ROOT)
    try:
        client = await Client.connect(address)
        server = temporal_server_pid()
        await level(client, 20, 100, args.local_activities)  # warm-up: worker cache, connections
        print(f"Temporal at {address}; empty workflow, update-with-start, {args.local_activities} local activities, "
              f"{args.runs} runs per level")
        print(f"{'in flight':>9}  {'runs/s':>7}  {'p50 ms':>7}  {'p95 ms':>7}  {'p99 ms':>7}  "
              f"{'server ms/run':>13}  {'worker ms/run':>13}  {'client ms/run':>13}")
        for in_flight in args.in_flight:
            pids = {"server": server, "worker": worker.pid, "client": os.getpid()}
            before = {k: cpu_seconds(p) for k, p in pids.items() if p}
            t0 = time.perf_counter()
            lat = await level(client, in_flight, args.runs, args.local_activities)
            wall = time.perf_counter() - t0
            per_run = {k: (cpu_seconds(p) - before[k]) * 1000 / args.runs for k, p in pids.items() if p}
            server_cpu = f"{per_run['server']:13.1f}" if "server" in per_run else f"{'-':>13}"
            print(f"{in_flight:>9}  {args.runs / wall:7.1f}  {pct(lat, 50):7.0f}  {pct(lat, 95):7.0f}  {pct(lat, 99):7.0f}  "
                  f"{server_cpu}  {per_run['worker']:13.1f}  {per_run['client']:13.1f}", flush=True)
    finally:
        worker.terminate()
        worker.wait()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; ``--in-flight`` is a comma-separated list of positive integers."""
    ap = argparse.ArgumentParser(prog="python -m bench.temporal_ceiling", description=__doc__.split("\n\n")[0])
    ap.add_argument("--in-flight", type=lambda s: [int(v) for v in s.split(",")], default=[1, 20, 100])
    ap.add_argument("--runs", type=int, default=1000, help="runs per level")
    ap.add_argument("--local-activities", type=int, default=0, help="no-op local activities per run")
    ap.add_argument("--serve", metavar="ADDRESS", help=argparse.SUPPRESS)
    return ap.parse_args(argv)


if __name__ == "__main__":
    options = parse_args()
    asyncio.run(serve(options.serve) if options.serve else main(options))
    sys.stdout.flush()
    os._exit(0)
