"""Load test of the running gateway with the five reference agents, headless Locust used as a library.

Shaped like the operations guide's monitoring scenario (many users, each starting a run now and then
and a human answering its interrupts), scaled down to what one machine can drive: ``--users``
(default 40) users ramped up at ``--spawn-rate`` per second, for ``--duration`` seconds (default
60), then in-flight runs get ``--drain`` seconds to finish. Each user picks an agent by weight
(``--mix``), runs it with ``?wait=true``, answers interrupts with the agent's reviewer rule after
1-3 s of human think time, then thinks ``--think MIN MAX`` seconds (or, with ``--rate R``, paces
itself to at most R runs per second). Users: ``bench/load_users.py``.

Prints Locust's figures per agent and step, then per agent and in total: runs, requests, success and
error rate, p50/p95/p99 run service time (ms), runs/s, each against the KPIs (success > 95 %, error
< 2 %); the client's time next to the run's own recorded latency; and the queue waits from the
worker's ``/metrics`` (graph activities) and its Temporal SDK's (workflow and activity tasks),
scraped before and after. Exit code 0 (a measurement, not a test) unless the gateway is unreachable (2).

    .venv/bin/python -m bench.load                      # 40 users, 60 s
    .venv/bin/python -m bench.load --users 10 --duration 20
"""

# Locust first: importing it monkey-patches sockets and ssl with gevent, which must happen before any
# other module opens a socket or imports ssl.
from locust import between, constant_throughput, events  # noqa: I001
from locust.env import Environment
from locust.stats import StatsEntry

import argparse
import math
import sys
import time
from collections import Counter

import gevent
import numpy as np
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from bench.load_users import ERROR_OUTCOMES, SUCCEEDED, AgentLoad, RunLedger, make_user_class
from reference_agents.registry import BUILTIN_TEMPLATES, get_agent
from shipway.settings import get_settings

# Weights: the monitoring scenario is mostly short scoring and screening runs (a transaction scored
# for fraud, a party screened against sanctions lists, an application scored), with fewer long
# analyses (a company's financials and news, a portfolio optimisation).
DEFAULT_MIX = {"fraud-detection": 35, "compliance-monitoring": 25, "credit-underwriting": 25,
               "financial-analysis": 10, "portfolio-management": 5}
# Sample inputs drawn per template (and reused at random): the counts the demo sends; portfolio
# profiles are rolled back a year per round, so few of them stay within its price data.
INPUTS_PER_TEMPLATE = {"credit_underwriting": 200, "fraud_detection": 40, "compliance_monitoring": 40,
                       "financial_analysis": 12, "portfolio_management": 6}
KPI_SUCCESS_MIN, KPI_ERROR_MAX = 0.95, 0.02
# Queue waits, from the workers' /metrics (Shipway's) and their Temporal SDK's: {metric: label it is split by}.
# A graph step that runs as a local activity (exit-durability versions) waits inside its workflow
# task, so the SDK's workflow-task schedule-to-start is the wait to read for those.
WORKER_WAITS = {"shipway_queue_wait_seconds": "agent"}
SDK_WAITS = {"temporal_workflow_task_schedule_to_start_latency_seconds": "task_queue",
             "temporal_activity_schedule_to_start_latency_seconds": "task_queue"}


# -- setup ----------------------------------------------------------------------------------------
def parse_mix(text: str) -> dict[str, int]:
    """``name=weight,...`` -> {live agent name: weight}.

    Raises:
        argparse.ArgumentTypeError: malformed, or a weight that is not a non-negative int.
    """
    try:
        mix = {name.strip(): int(w) for name, w in (part.split("=", 1) for part in text.split(",") if part.strip())}
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--mix wants name=weight,... with int weights: {exc}") from exc
    if not mix or any(w < 0 for w in mix.values()):
        raise argparse.ArgumentTypeError("--mix needs at least one agent and non-negative weights")
    return mix


def load_agents(mix: dict[str, int]) -> list[AgentLoad]:
    """The reference agents named in ``mix`` with a positive weight, with their sample inputs.

    Raises:
        SystemExit: ``mix`` names an agent that is not a reference agent.
    """
    by_name = {}
    for template in BUILTIN_TEMPLATES:
        agent = get_agent(template)
        by_name[yaml.safe_load(agent.spec_path.read_text())["name"]] = (template, agent)
    if unknown := set(mix) - set(by_name):
        sys.exit(f"--mix: not reference agents: {', '.join(sorted(unknown))}; known: {', '.join(by_name)}")
    return [AgentLoad(name, weight, by_name[name][1].sample_inputs(INPUTS_PER_TEMPLATE[by_name[name][0]]), by_name[name][1].resume_value)
            for name, weight in mix.items() if weight > 0]


def metrics_urls(given: list[str] | None, port_setting: str, recorded_key: str) -> list[str]:
    """``given``, else the local worker's ``/metrics`` on the port of setting ``port_setting`` or the
    one ``shipway up`` recorded as ``worker.<recorded_key>`` in ``stack.json``, else ``[]``."""
    if given:
        return given
    s = get_settings()
    port = getattr(s, port_setting) or s.stack_info().get("worker", {}).get(recorded_key)
    return [f"http://{s.metrics_host}:{port}/metrics"] if port else []


# -- queue waits (workers' /metrics) ----------------------------------------------------------------
def scrape_histograms(urls: list[str], wanted: dict[str, str]) -> dict[tuple[str, str], Counter] | None:
    """The histograms ``wanted`` ({metric: label to split by}) summed over ``urls``:
    {(metric, label value): {bucket upper bound (s): count, "count": n, "sum": seconds}};
    None when any URL could not be scraped."""
    out: dict[tuple[str, str], Counter] = {}
    for url in urls:
        try:
            resp = requests.get(url, timeout=5)
            resp.raise_for_status()
        except requests.RequestException:
            return None
        for family in text_string_to_metric_families(resp.text):
            if family.name not in wanted:
                continue
            for sample in family.samples:
                suffix = sample.name[len(family.name):]
                key = float(sample.labels["le"]) if suffix == "_bucket" else {"_count": "count", "_sum": "sum"}.get(suffix)
                if key is not None:
                    out.setdefault((family.name, sample.labels.get(wanted[family.name], "")), Counter())[key] += sample.value
    return out


def histogram_quantile(q: float, buckets: dict[float, float]) -> float:
    """Prometheus' ``histogram_quantile``: the ``q`` (0-1) quantile of cumulative ``buckets``
    ({upper bound: count}), linear within a bucket; the top finite bound if it falls in ``+Inf``."""
    bounds = np.array(sorted(buckets))
    cum = np.array([buckets[b] for b in bounds])
    rank = q * cum[-1]
    i = int(np.searchsorted(cum, rank))
    if math.isinf(bounds[i]):
        return float(bounds[i - 1])
    lo, below = (bounds[i - 1], cum[i - 1]) if i else (0.0, 0.0)
    return float(lo + (bounds[i] - lo) * (rank - below) / (cum[i] - below))


# -- the run --------------------------------------------------------------------------------------
def run_load(user_class: type, host: str, users: int, spawn_rate: float, duration_s: float, drain_s: float) -> tuple[Environment, float]:
    """Run ``users`` of ``user_class`` against ``host`` for ``duration_s`` seconds, let in-flight runs
    finish for up to ``drain_s``; returns the environment (its ``stats``) and the wall time, seconds."""
    env = Environment(user_classes=[user_class], host=host, events=events, stop_timeout=drain_s)
    runner = env.create_local_runner()
    t0 = time.monotonic()

    def progress() -> None:
        while True:
            gevent.sleep(10)
            runs = env.stats.entries.values()
            done = sum(e.num_requests for e in runs if e.method == "RUN")
            failed = sum(e.num_failures for e in runs if e.method == "RUN")
            print(f"  {time.monotonic() - t0:5.0f} s  {runner.user_count} users  {done} runs  {failed} errors", flush=True)

    ticker = gevent.spawn(progress)
    runner.start(users, spawn_rate=spawn_rate)
    gevent.spawn_later(duration_s, runner.quit)
    runner.greenlet.join()
    ticker.kill()
    return env, time.monotonic() - t0


# -- the report -----------------------------------------------------------------------------------
def _pcts(entry: StatsEntry) -> str:
    return "".join(f"{entry.get_response_time_percentile(q):>8.0f}" for q in (0.5, 0.95, 0.99)) if entry.num_requests else f"{'-':>8}" * 3


def _merged(env: Environment, name: str, method: str, entries: list[StatsEntry]) -> StatsEntry:
    total = StatsEntry(env.stats, name, method)
    for e in entries:
        total.extend(e)
    return total


def _kpi(rate: float | None, ok: bool) -> str:
    return "   n/a" if rate is None else f"{100 * rate:5.1f} % {'PASS' if ok else 'FAIL'}"


def report(env: Environment, wall_s: float, agents: list[AgentLoad], ledger: RunLedger, waits: list[tuple]) -> None:
    """Print the requests by agent and step, the runs and KPIs by agent and in total, and the queue
    waits: ``waits`` = [(source title, its URLs, scrape before, scrape after)] (:func:`scrape_histograms`)."""
    http = sorted((e for e in env.stats.entries.values() if e.method != "RUN"), key=lambda e: e.name)
    print(f"\nHTTP requests by agent and step (Locust; ms; {wall_s:.0f} s wall, ramp-up and drain included)")
    print(f"{'request':<36}{'reqs':>7}{'fails':>7}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}{'req/s':>8}")
    for e in http:
        print(f"{e.name:<36}{e.num_requests:>7}{e.num_failures:>7}{_pcts(e)}{e.max_response_time:>8.0f}{e.num_requests / wall_s:>8.2f}")

    print("\nRuns by agent (a run = its first request and its resumes; p50/p95/p99 = its service time in ms, human think excluded)")
    print(f"{'agent':<24}{'runs':>6}{'reqs':>6}{'ok':>6}{'err':>5}{'other':>6}{'success':>15}{'error':>15}"
          f"{'p50':>8}{'p95':>8}{'p99':>8}{'runs/s':>8}")
    rows = [(a.name, [e for e in env.stats.entries.values() if e.method == "RUN" and e.name == a.name],
             [e for e in http if e.name.startswith(f"{a.name} ")]) for a in agents]
    rows.append(("total", [e for e in env.stats.entries.values() if e.method == "RUN"], http))
    for name, run_entries, req_entries in rows:
        counts = Counter()
        for (agent, outcome), n in ledger.outcomes.items():
            if name in ("total", agent):
                counts[outcome] += n
        runs = counts.total()
        ok = counts.get(SUCCEEDED, 0)
        err = sum(n for o, n in counts.items() if o in ERROR_OUTCOMES)
        success, error = (ok / runs, err / runs) if runs else (None, None)
        entry = _merged(env, name, "RUN", run_entries)
        print(f"{name:<24}{runs:>6}{sum(e.num_requests for e in req_entries):>6}{ok:>6}{err:>5}{runs - ok - err:>6}"
              f"{_kpi(success, runs and success > KPI_SUCCESS_MIN):>15}{_kpi(error, runs and error < KPI_ERROR_MAX):>15}"
              f"{_pcts(entry)}{runs / wall_s:>8.2f}")
    print(f"KPIs: success > {100 * KPI_SUCCESS_MIN:.0f} % (runs ended succeeded), error < {100 * KPI_ERROR_MAX:.0f} % "
          f"(HTTP errors, runs ended failed, bench exceptions); 'other' = {', '.join(sorted(_others(ledger))) or 'none'}")
    for agent, messages in ledger.errors.items():
        for m in messages:
            print(f"  error sample {agent}: {m}")

    print("\nSucceeded runs: client service time vs the run's recorded latency_ms (from after its input guard to its end, human"
          " waits excluded); the difference is the gateway, the workflow's start and first wait for a worker, the input guard"
          " and the settle (ms)")
    print(f"{'agent':<24}{'runs':>6}{'client p50':>11}{'p95':>8}{'recorded p50':>13}{'p95':>8}{'overhead p50':>13}{'p95':>8}")
    for agent in [a.name for a in agents] + ["total"]:
        timings = np.array([t for name, ts in ledger.timings.items() if agent in ("total", name) for t in ts]).reshape(-1, 2)
        if len(timings):
            cols = (timings[:, 0], timings[:, 1], timings[:, 0] - timings[:, 1])
            print(f"{agent:<24}{len(timings):>6}" + "".join(f"{np.percentile(c, 50):>{w}.0f}{np.percentile(c, 95):>8.0f}"
                                                             for c, w in zip(cols, (11, 13, 13))))

    print("\nQueue waits (workers' /metrics, after - before; ms; p = estimate from the buckets, as Prometheus' histogram_quantile)")
    print(f"{'histogram':<58}{'split':>22}{'count':>7}{'mean':>8}{'p50':>8}{'p95':>8}{'p99':>8}")
    missing = False
    for title, urls, before, after in waits:
        if not urls:
            print(f"  {title}: the worker exposes no such metrics port in this stack (none set, none recorded): not measured")
            missing = True
            continue
        if before is None or after is None:
            print(f"  {title}: could not scrape {', '.join(urls)} (a worker started without its metrics port exposes none;"
                  " pass the URL): not measured")
            missing = True
            continue
        for (metric, split) in sorted(after):
            delta = after[metric, split].copy()
            delta.subtract(before.get((metric, split), Counter()))
            if delta["count"] <= 0:
                continue
            buckets = {k: v for k, v in delta.items() if isinstance(k, float)}
            print(f"{metric:<58}{split:>22}{delta['count']:>7.0f}{1000 * delta['sum'] / delta['count']:>8.1f}"
                  + "".join(f"{1000 * histogram_quantile(q, buckets):>8.1f}" for q in (0.5, 0.95, 0.99)))
    if missing:
        print("  without them, the overhead column above is as close as the bench gets: it holds the workflow task's wait")


def _others(ledger: RunLedger) -> set[str]:
    return {o for (_, o) in ledger.outcomes if o != SUCCEEDED and o not in ERROR_OUTCOMES}


def main() -> None:
    """Parse flags, check the gateway, load the mix, run, report. Exit 2 when the gateway is unreachable."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=40, help="concurrent users (default 40)")
    ap.add_argument("--spawn-rate", type=float, default=10.0, help="users started per second (default 10)")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of load, ramp-up included (default 60)")
    ap.add_argument("--drain", type=float, default=30.0, help="seconds in-flight runs get to finish at the end (default 30)")
    ap.add_argument("--think", type=float, nargs=2, default=(1.0, 5.0), metavar=("MIN", "MAX"),
                    help="seconds a user waits between runs (default 1 5); ignored with --rate")
    ap.add_argument("--rate", type=float, help="cap: runs per second per user (Locust constant_throughput) instead of --think")
    ap.add_argument("--human-think", type=float, nargs=2, default=(1.0, 3.0), metavar=("MIN", "MAX"),
                    help="seconds the reviewer takes before answering an interrupt (default 1 3)")
    ap.add_argument("--mix", type=parse_mix, default=DEFAULT_MIX,
                    help="agent weights, name=weight,... (default " + ",".join(f"{k}={v}" for k, v in DEFAULT_MIX.items()) + ")")
    ap.add_argument("--worker-metrics", action="append", metavar="URL",
                    help="a worker's /metrics URL (repeat per worker; default: the local stack's worker)")
    ap.add_argument("--sdk-metrics", action="append", metavar="URL",
                    help="a worker's Temporal SDK /metrics URL (repeat per worker; default: the local stack's worker)")
    args = ap.parse_args()

    settings = get_settings()
    host = settings.resolved_gateway_url()
    try:
        requests.get(f"{host}/healthz", timeout=5).raise_for_status()
    except requests.RequestException as exc:
        print(f"gateway {host} unreachable ({exc}); start the stack: `shipway up` and `make demo`", file=sys.stderr)
        sys.exit(2)

    agents = load_agents(args.mix)
    wait_time = constant_throughput(args.rate) if args.rate else between(*args.think)
    ledger = RunLedger()
    user_class = make_user_class(agents, settings.auth_headers(), wait_time, tuple(args.human_think), ledger)
    sources = [("Shipway worker", metrics_urls(args.worker_metrics, "worker_metrics_port", "metrics_port"), WORKER_WAITS),
               ("Temporal SDK", metrics_urls(args.sdk_metrics, "temporal_metrics_port", "temporal_metrics_port"), SDK_WAITS)]
    pace = f"at most {args.rate} runs/s per user" if args.rate else f"think {args.think[0]:g}-{args.think[1]:g} s"
    print(f"Load on {host}: {args.users} users (+{args.spawn_rate:g}/s), {args.duration:g} s (+ up to {args.drain:g} s drain), "
          f"{pace}, human think {args.human_think[0]:g}-{args.human_think[1]:g} s")
    print("mix: " + ", ".join(f"{a.name} {a.weight} ({len(a.inputs)} inputs)" for a in agents))

    before = [scrape_histograms(urls, wanted) for _, urls, wanted in sources]
    env, wall_s = run_load(user_class, host, args.users, args.spawn_rate, args.duration, args.drain)
    waits = [(title, urls, b, scrape_histograms(urls, wanted)) for (title, urls, wanted), b in zip(sources, before)]
    report(env, wall_s, agents, ledger, waits)
    if env.runner.cpu_warning_emitted:
        print("\nnote: the load generator's CPU went above 90 % (Locust's warning): latencies include its own delays")


if __name__ == "__main__":
    main()
