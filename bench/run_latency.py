"""Run latency of the Credit Underwriting agent through the whole platform on this machine.

Needs the local stack with the agent live (``make demo`` leaves it so). Sends German Credit
applications through the gateway (``?wait=true``; referrals are resumed at once by the demo
underwriter rule): first sequentially, then with 20 in flight. Prints p50/p95 latency (ms)
and runs per second.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx

from bench._common import gateway_run, pct
from reference_agents.credit_underwriting import AGENT
from shipway.settings import get_settings


async def main(sequential: int, concurrent: int, in_flight: int) -> None:
    inputs = AGENT.sample_inputs(1000)
    async with httpx.AsyncClient(base_url=get_settings().resolved_gateway_url(), timeout=300,
                                 headers=get_settings().auth_headers()) as http:
        for inp in inputs[:5]:  # warm-up: graph compiled, pools open
            await gateway_run(http, "credit-underwriting", inp, AGENT.resume_value)
        seq = [await gateway_run(http, "credit-underwriting", inputs[i % len(inputs)], AGENT.resume_value) for i in range(sequential)]
        print(f"sequential: {sequential} runs  p50 {pct(seq, 50):.1f} ms  p95 {pct(seq, 95):.1f} ms  "
              f"({1000 / (sum(seq) / len(seq)):.1f} runs/s one at a time)")
        sem = asyncio.Semaphore(in_flight)

        async def one(i: int) -> float:
            async with sem:
                return await gateway_run(http, "credit-underwriting", inputs[i % len(inputs)], AGENT.resume_value)

        t0 = time.perf_counter()
        conc = await asyncio.gather(*(one(i) for i in range(concurrent)))
        wall = time.perf_counter() - t0
        print(f"concurrent: {concurrent} runs, {in_flight} in flight  {concurrent / wall:.1f} runs/s  "
              f"p50 {pct(conc, 50):.1f} ms  p95 {pct(conc, 95):.1f} ms")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sequential", type=int, default=100)
    ap.add_argument("--concurrent", type=int, default=400)
    ap.add_argument("--in-flight", type=int, default=20)
    a = ap.parse_args()
    asyncio.run(main(a.sequential, a.concurrent, a.in_flight))
