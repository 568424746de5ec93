"""Locust users for ``bench/load.py``: each iteration runs one reference agent through the gateway.

A user picks an agent by weight (Locust's weighted ``tasks``), POSTs one of its sample inputs to
``/v1/agents/{name}/runs?wait=true``, answers every interrupt with the agent's documented reviewer
rule after a human think time (``/v1/runs/{id}/resume?wait=true``), then waits its think time.
HTTP requests are named ``<agent> run`` / ``<agent> resume`` in Locust's stats; each whole run is
also reported as a ``RUN`` entry named ``<agent>`` whose time is its service time (the sum of its
requests, human think time excluded). How each run ended goes to a :class:`RunLedger`.

Imported by ``bench/load.py`` after Locust (gevent monkey-patching); no asyncio or httpx here.
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import gevent
from locust.contrib.fasthttp import FastHttpUser

# A run's outcomes: these count as errors; SUCCEEDED as success; anything else (blocked, withheld,
# budget_exceeded, an interrupt left unanswered) is neither, and is reported by name.
SUCCEEDED = "succeeded"
ERROR_OUTCOMES = frozenset({"failed", "http_error", "exception"})
# a run that keeps interrupting past this many answers is left (and reported) as "interrupted"
MAX_RESUMES = 5


@dataclass(frozen=True)
class AgentLoad:
    """One agent in the mix.

    Attributes:
        name: the live agent's name in the gateway (its spec's ``name``).
        weight: relative share of runs (Locust task weight, a positive int).
        inputs: run inputs to draw from (the agent's ``sample_inputs``).
        resume_value: ``(interrupt_payload, run_input) -> answer`` (the agent's ``resume_value``).
    """

    name: str
    weight: int
    inputs: list[dict]
    resume_value: Callable[[dict, dict], dict]


@dataclass
class RunLedger:
    """How the runs of a load test ended: ``outcomes[(agent, outcome)]`` = runs, where the outcome
    is the run's final status, ``http_error`` (a non-200 answer or no answer) or ``exception``;
    ``errors[agent]`` keeps the first few error messages; ``timings[agent]`` holds, per succeeded
    run, (service time seen by the client, the run's own ``latency_ms``) in milliseconds."""

    outcomes: Counter = field(default_factory=Counter)
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    timings: dict[str, list[tuple[float, float]]] = field(default_factory=lambda: defaultdict(list))
    keep_errors: int = 3

    def record(self, agent: str, outcome: str, error: str | None = None, timing: tuple[float, float] | None = None) -> None:
        """Count one finished run of ``agent``; keep ``error`` if fewer than ``keep_errors`` are kept,
        and ``timing`` (client ms, recorded ms) when given."""
        self.outcomes[agent, outcome] += 1
        if error and len(self.errors[agent]) < self.keep_errors:
            self.errors[agent].append(error)
        if timing:
            self.timings[agent].append(timing)


class _HttpError(Exception):
    """The gateway answered a run or resume with something other than 200 (or not at all)."""


class AgentRunUser(FastHttpUser):
    """Base of the users :func:`make_user_class` builds; not run by itself."""

    abstract = True
    # ?wait=true holds the request for the whole run, which may queue behind many others under load
    network_timeout = 300.0
    connection_timeout = 10.0
    human_think_s: tuple[float, float] = (1.0, 3.0)
    ledger: RunLedger

    def run_agent(self, agent: AgentLoad) -> None:
        """One run of ``agent`` to its end (interrupts answered); recorded in Locust's stats and the ledger."""
        inp = random.choice(agent.inputs)
        service_ms = 0.0
        error, timing = None, None
        try:
            ms, body = self._post(f"{agent.name} run", f"/v1/agents/{agent.name}/runs?wait=true", {"input": inp})
            service_ms += ms
            for _ in range(MAX_RESUMES):
                if body["status"] != "interrupted":
                    break
                gevent.sleep(random.uniform(*self.human_think_s))
                answer = {"value": agent.resume_value(body["interrupt"], inp), "actor": "bench.load"}
                ms, body = self._post(f"{agent.name} resume", f"/v1/runs/{body['run_id']}/resume?wait=true", answer)
                service_ms += ms
            outcome = body["status"]
            if outcome in ERROR_OUTCOMES:
                error = f"run {body['run_id']} {outcome}: {body.get('error')}"
            elif outcome == SUCCEEDED and body.get("latency_ms") is not None:
                timing = (service_ms, body["latency_ms"])
        except _HttpError as exc:
            outcome, error = "http_error", str(exc)
        except Exception as exc:  # a bench bug or odd answer must show up as an error, not stop the user
            outcome, error = "exception", f"{type(exc).__name__}: {exc}"
        self.ledger.record(agent.name, outcome, error, timing)
        self.environment.events.request.fire(
            request_type="RUN", name=agent.name, response_time=service_ms, response_length=0, context={},
            exception=RuntimeError(error) if outcome in ERROR_OUTCOMES else None)

    def _post(self, name: str, path: str, payload: dict) -> tuple[float, dict]:
        """POST ``payload``; returns (milliseconds, JSON body).

        Raises:
            _HttpError: no answer, or a status other than 200 (the request is marked failed in Locust).
            ValueError: a 200 answer whose body is not JSON.
        """
        t0 = time.perf_counter()
        with self.client.post(path, json=payload, name=name, catch_response=True) as resp:
            ms = (time.perf_counter() - t0) * 1000
            if resp.status_code != 200:
                why = f"{name}: HTTP {resp.status_code} {(resp.text or repr(getattr(resp, 'error', None)))[:200]}"
                resp.failure(why)
                raise _HttpError(why)
        return ms, resp.json()


def make_user_class(agents: list[AgentLoad], headers: dict[str, str], wait_time: Callable,
                    human_think_s: tuple[float, float], ledger: RunLedger) -> type[AgentRunUser]:
    """A Locust user class running ``agents`` by weight, sending ``headers`` (the API key), waiting
    ``wait_time`` (a Locust wait function: ``between``, ``constant_throughput``) between runs and
    ``human_think_s`` (min, max seconds) before each resume, recording outcomes in ``ledger``."""
    def task_for(agent: AgentLoad) -> Callable[[AgentRunUser], None]:
        return lambda user: user.run_agent(agent)

    return type("AgentRunUser", (AgentRunUser,), {
        "abstract": False, "tasks": {task_for(a): a.weight for a in agents if a.weight > 0},
        "wait_time": wait_time, "default_headers": headers, "human_think_s": human_think_s, "ledger": ledger})
