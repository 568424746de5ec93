"""Shared helpers of the benchmarks: percentiles and one gateway run (resuming interrupts)."""

from __future__ import annotations

import time

import httpx
import numpy as np


def pct(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``."""
    return float(np.percentile(values, q))


async def gateway_run(http: httpx.AsyncClient, name: str, inp: dict, resume_value) -> float:
    """One run through the gateway (``?wait=true``), answering interrupts; returns milliseconds.

    Raises:
        RuntimeError: the gateway refused the run (e.g. the agent is not live: run ``make demo``).
    """
    t0 = time.perf_counter()
    r = await http.post(f"/v1/agents/{name}/runs?wait=true", json={"input": inp})
    if r.status_code != 200:
        raise RuntimeError(f"{name}: HTTP {r.status_code} {r.text[:200]} (is the stack up and the agent live? run `make demo`)")
    body = r.json()
    while body["status"] == "interrupted":
        body = (await http.post(f"/v1/runs/{body['run_id']}/resume?wait=true",
                                json={"value": resume_value(body["interrupt"], inp), "actor": "bench"})).json()
    if body["status"] != "succeeded":
        raise RuntimeError(f"{name}: run {body['run_id']} ended {body['status']}: {body.get('error')}")
    return (time.perf_counter() - t0) * 1000
