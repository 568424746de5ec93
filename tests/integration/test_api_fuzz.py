"""Property-based fuzzing of the gateway from its own OpenAPI document (schemathesis): no endpoint
answers 5xx to malformed or hostile requests, and every answer matches the declared responses.

The gateway runs as a real uvicorn process on the test database and Temporal server, with Shipway's
workers in this process and a live counting agent, so fuzzed requests reach input validation, real
runs and their interrupts, not only the 404 path. Generation is derandomized (the same cases on
every run) and bounded per operation. The fuzzer runs in a thread: its HTTP calls are synchronous,
and the workers need this process's event loop to keep turning meanwhile.

Fuzzed runs of the counting agent cannot touch anything outside the test's tmp dir: every
``log_path`` (the file its nodes append to) is replaced by one in tmp before the request is sent,
and a run the request would wait for is kept short (no ``delay_s``, no ``fail``, whose retries take
seconds).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode, Response
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.gateways import gateway_processes
from tests.support.keys import bearer, make_key
from tests.support.lifecycle import deploy_counting

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session"),
              # schemathesis draws from `random` inside its strategies; Hypothesis seeds it per example,
              # so generation stays deterministic (the same requests on every run)
              pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")]

# Hypothesis examples per operation and generation mode (positive: valid per the schema; negative:
# not), besides the coverage cases: with a key, and in each pass without one (none, malformed, unknown).
# The LangGraph Platform API's 26 operations get fewer keyed examples: with 100 each the test took
# 275 s of the suite's 20-minute budget (61 s before they existed); their coverage cases still break
# each constraint in turn.
KEYED_EXAMPLES = 100
PLATFORM_KEYED_EXAMPLES = 25
UNKEYED_EXAMPLES = 10
SHIPWAY_PATHS = ("/v1/", "/webhooks/", "/healthz", "/metrics")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Values FastAPI (pydantic) reads as true for a `bool` query parameter.
_TRUE = {"1", "on", "t", "true", "y", "yes"}
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
STATUSES: Counter = Counter()


def _is_json(body: bytes | str | None) -> bool:
    try:
        json.loads(body or b"")
    except ValueError:
        return False
    return True


def _tame(case: schemathesis.Case, log_path: str) -> None:
    """Keep a run the case may start harmless: its ``log_path`` in tmp, and short when waited for."""
    body = case.body
    if case.operation.method.upper() != "POST" or not isinstance(body, dict):
        return
    run_input = body.get("input")
    if not isinstance(run_input, dict):
        return
    if isinstance(run_input.get("log_path"), str):
        run_input["log_path"] = log_path
    delay = run_input.get("delay_s")
    if isinstance(delay, (int, float)) and not isinstance(delay, bool) and 0 <= delay <= 30:
        run_input["delay_s"] = 0
    if str(case.query.get("wait") if case.query else "").lower() in _TRUE and run_input.get("fail") is True:
        run_input["fail"] = False


def _with_log_path(log_path: str) -> Callable[[schemathesis.Case], schemathesis.Case]:
    """Give a run input object the counting agent's one required field, so the case gets past its schema."""
    def add(case: schemathesis.Case) -> schemathesis.Case:
        if isinstance(case.body, dict) and isinstance(case.body.get("input"), dict):
            case.body["input"]["log_path"] = log_path
        return case

    return add


def _aimed(operation, live: dict[str, list[str]]) -> list[dict[str, str]]:
    """Path parameters aiming ``operation`` at the real targets in ``live`` (a live agent, real runs)."""
    params = {p.name for p in operation.path_parameters}
    return [{name: target} for name in sorted(params & live.keys()) for target in live[name]]


def _coverage_cases(schema, operation, live: dict[str, list[str]]) -> Iterator[schemathesis.Case]:
    """Schemathesis's coverage phase for ``operation`` (boundary values, each constraint broken in
    turn, missing and duplicated parameters, undeclared methods), each case also aimed at the real targets."""
    config = schema.config.generation_for(operation=operation, phase="coverage")
    for case in schema.iter_coverage_cases(operation, generation_modes=MODES, generation_config=config):
        yield case
        if case.method.upper() == operation.method.upper():
            for params in _aimed(operation, live):
                aimed = case.derive()
                aimed.path_parameters = {**aimed.path_parameters, **params}
                yield aimed


def _strategy(operation, live: dict[str, list[str]], log_path: str) -> st.SearchStrategy[schemathesis.Case]:
    """Hypothesis cases of ``operation`` in each generation mode, also aimed at the real targets
    (where valid bodies get the counting agent's one required field, so they pass its input schema)."""
    strategies = [operation.as_strategy(generation_mode=mode) for mode in MODES]
    for params in _aimed(operation, live):
        for mode in MODES:
            aimed = operation.as_strategy(generation_mode=mode, path_parameters=params)
            strategies.append(aimed.map(_with_log_path(log_path)) if mode == GenerationMode.POSITIVE else aimed)
    return st.one_of(strategies)


def _fuzz(schema, base_url: str, headers: dict[str, str], examples: int, live: dict[str, list[str]], log_path: str,
          routes: Callable[[str], bool], expect: Callable[[schemathesis.Case, Response], None] | None = None,
          coverage: bool = True) -> list[str]:
    """Send every operation of ``schema`` whose path ``routes`` keeps its coverage cases and
    ``examples`` Hypothesis cases per generation mode (at most :data:`PLATFORM_KEYED_EXAMPLES` for the
    Platform API's; the coverage cases only with ``coverage``), with ``headers``; run :data:`CHECKS`
    and ``expect`` on each answer. Returns the failures (the first one of each operation and phase)."""
    failures = []

    def send(case: schemathesis.Case) -> None:
        _tame(case, log_path)
        response = case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=60)
        STATUSES[(case.operation.label, response.status_code)] += 1
        if expect is not None:
            expect(case, response)

    for result in schema.get_all_operations():
        operation = result.ok()
        if not routes(operation.path):
            continue
        try:
            for case in _coverage_cases(schema, operation, live) if coverage else ():
                send(case)
        except Exception as exc:  # noqa: BLE001 - every operation is fuzzed, then all failures are reported
            failures.append(f"{operation.label} (coverage): {exc}")

        per_mode = examples if shipway_route(operation.path) else min(examples, PLATFORM_KEYED_EXAMPLES)

        @settings(max_examples=per_mode * len(MODES), deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate, Phase.shrink])
        @given(case=_strategy(operation, live, log_path))
        def fuzz(case: schemathesis.Case) -> None:
            send(case)

        try:
            fuzz()
        except Exception as exc:  # noqa: BLE001
            failures.append(f"{operation.label} (fuzzing): {exc}")
    return failures


def shipway_route(path: str) -> bool:
    """Whether ``path`` is one of Shipway's own routes (else the LangGraph Platform API's)."""
    return path.startswith(SHIPWAY_PATHS)


async def test_no_endpoint_answers_5xx_to_fuzzed_requests(settings_env, worker, db, tmp_path, no_local_constants):
    """Every Shipway operation (the Platform API's: ``test_api_fuzz_platform.py``, a file of its own so
    the two halves run in parallel) passes :func:`fuzz_routes`."""
    await fuzz_routes(shipway_route, worker, db, tmp_path)


async def fuzz_routes(routes: Callable[[str], bool], worker, db, tmp_path) -> None:
    """Every operation whose path ``routes`` keeps, fuzzed with an admin key (rate limits out of the
    way), answers no 5xx and only documented statuses, content types and bodies; without a key, with
    a malformed one and with an unknown one, every operation but ``/healthz`` and ``/ok`` answers 401
    (or 422 for a body that is not JSON)."""
    agent = await deploy_counting(worker, db)
    key = await make_key(name="fuzz")
    log_path = str(tmp_path / "fuzzed-runs.log")
    env = {"SHIPWAY_RATE_LIMITS": json.dumps({"admin": "100000/second"}),
           "SHIPWAY_RATE_LIMIT_PER_ADDRESS": "100000/second"}
    async with gateway_processes(1, env, tmp_path) as [url], httpx.AsyncClient(base_url=url, timeout=60,
                                                                                  headers=bearer(key)) as http:
        interrupted = (await http.post(f"/v1/agents/{agent}/runs?wait=true",
                                       json={"input": {"log_path": log_path, "ask": True}})).json()
        finished = (await http.post(f"/v1/agents/{agent}/runs?wait=true", json={"input": {"log_path": log_path}})).json()
        assert (interrupted["status"], finished["status"]) == ("interrupted", "succeeded"), (interrupted, finished)
        live = {"name": [agent], "run_id": [interrupted["run_id"], finished["run_id"]]}

        schema = await asyncio.to_thread(schemathesis.openapi.from_url, f"{url}/openapi.json")
        started = time.monotonic()
        failures = await asyncio.to_thread(_fuzz, schema, url, bearer(key), KEYED_EXAMPLES, live, log_path, routes)
        keyed_s = time.monotonic() - started

        def refused(case: schemathesis.Case, response: Response) -> None:
            if case.operation.path in ("/healthz", "/ok"):  # liveness, unauthenticated as the Platform's own
                return
            if response.status_code == 422 and not _is_json(response.request.body):
                return  # a body that is not JSON is refused while it is read, before the key is checked
            assert response.status_code == 401, (case.operation.label, response.status_code, response.text)

        # the coverage cases once without a key; a malformed or an unknown key is the same refusal
        for headers, coverage in (({}, True), (bearer("not-a-key"), False), (bearer(f"sw_{'0' * 12}_{'A' * 43}"), False)):
            failures += await asyncio.to_thread(_fuzz, schema, url, headers, UNKEYED_EXAMPLES, live, log_path, routes,
                                                refused, coverage)
        for (label, status), n in sorted(STATUSES.items()):
            print(f"{label:40} {status} x{n}")
        print(f"fuzzed: keyed {keyed_s:.1f} s, all {time.monotonic() - started:.1f} s")
    assert not failures, "\n\n".join(failures) + f"\n\ngateway log:\n{(tmp_path / 'gateway0.log').read_text()[-5000:]}"


async def test_hostile_text_and_numbers_are_a_422_naming_the_field(worker, db, gateway, tmp_path):
    """What probing the gateway beyond the fuzzer found (its generated JSON is always valid UTF-8 and
    finite). Before: a NUL in a path or query parameter was
    a 500 (PostgreSQL refuses NUL in text); a lone surrogate, NaN or Infinity in a JSON object (which
    Python's JSON parser accepts) got as far as the worker, whose insert of the run or audit of the
    answer then failed on every retry, so the request hung and the run never started."""
    agent = await deploy_counting(worker, db)
    log_path = str(tmp_path / "nodes.log")
    r = await gateway.post(f"/v1/agents/{agent}/runs?wait=true", json={"input": {"log_path": log_path, "ask": True}})
    assert r.json()["status"] == "interrupted", r.text
    run_id = r.json()["run_id"]

    def refused(r: httpx.Response, loc: list, what: str) -> None:
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == loc and what in r.json()["detail"][0]["msg"], r.text

    refused(await gateway.get("/v1/runs/%00"), ["path", "run_id"], "NUL")
    refused(await gateway.get(f"/v1/runs/{run_id}%00?wait=true"), ["path", "run_id"], "NUL")
    refused(await gateway.post("/v1/runs/%00/resume", json={"value": {}}), ["path", "run_id"], "NUL")
    refused(await gateway.get("/v1/agents/a%00b"), ["path", "name"], "NUL")
    refused(await gateway.post(f"/v1/agents/{agent}%00/runs", json={"input": {"log_path": log_path}}), ["path", "name"], "NUL")
    refused(await gateway.get("/v1/runs?agent=%00"), ["query", "agent"], "NUL")

    start, resume = f"/v1/agents/{agent}/runs?wait=true", f"/v1/runs/{run_id}/resume?wait=true"
    raw = {  # JSON text as sent, since json.dumps would not write these
        (start, b'{"input": {"log_path": "%s", "x": NaN}}' % log_path.encode()): (["body", "input"], "non-finite number (nan)"),
        (start, b'{"input": {"log_path": "%s", "delay_s": 1e999}}' % log_path.encode()): (["body", "input"], "(inf)"),
        (start, b'{"input": {"log_path": "%s"}, "context": {"x": -Infinity}}' % log_path.encode()):
            (["body", "context"], "(-inf)"),
        (start, b'{"input": {"log_path": "%s", "message": "\\ud800"}}' % log_path.encode()):
            (["body", "input"], "lone UTF-16 surrogate (\\ud800-\\udfff) at value.message"),
        (start, b'{"input": {"log_path": "%s", "\\udc00": 1}}' % log_path.encode()):
            (["body", "input"], "surrogate (\\ud800-\\udfff) at value.\\udc00"),
        (start, b'{"input": {"log_path": "%s"}, "config": {"configurable": {"k": ["\\udfff"]}}}' % log_path.encode()):
            (["body", "config", "configurable"], "surrogate"),
        (resume, b'{"value": {"decision": "yes", "reviewer": "uma", "note": "\\ud800"}}'): (["body", "value"], "surrogate"),
        (resume, b'{"value": {"decision": "yes", "reviewer": "uma", "score": NaN}}'): (["body", "value"], "(nan)"),
    }
    for (path, body), (loc, what) in raw.items():
        r = await gateway.post(path, content=body, headers={"content-type": "application/json"}, timeout=10)
        refused(r, loc, what)
    # a valid surrogate pair is one character, not a lone surrogate
    ok = await gateway.post(start, content=b'{"input": {"log_path": "%s", "message": "\\ud83d\\ude00"}}' % log_path.encode(),
                            headers={"content-type": "application/json"})
    assert ok.status_code == 200 and ok.json()["status"] == "succeeded", ok.text
    assert (await gateway.get(f"/v1/runs/{run_id}")).json()["status"] == "interrupted"  # no answer got through
