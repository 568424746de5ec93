"""What access control costs a gateway request, piece by piece, on this machine.

Needs the local stack with runs in it (``make demo`` leaves it so). Times, ``--n`` times each,
sequentially (ms, p50/p95):

- the key lookup (``key_store.authenticate`` through the gateway's role);
- the two rate-limit counters (address and key) in PostgreSQL, beside the same in ``memory://``;
- reading one run as the gateway does (role ``shipway_app``, tenant set for the transaction, row-level
  security), beside the same read as the table owner without RLS;
- a whole ``GET /v1/runs/{id}`` through the running gateway (auth, limits, RLS read, JSON), and
  with 20 requests in flight (requests/s).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx

from bench._common import pct
from shipway import queries
from shipway.auth import key_store
from shipway.auth.keys import Principal
from shipway.auth.roles import Role
from shipway.db.engine import Database
from shipway.gateway.rate_limit import RateLimiter
from shipway.settings import get_settings


async def timed(n: int, call: Callable[[], Awaitable[object]]) -> list[float]:
    """``n`` sequential calls after 20 warm-up calls; their durations in ms."""
    for _ in range(20):
        await call()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        await call()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def line(what: str, ms: list[float]) -> None:
    """One figure: p50 and p95 in ms."""
    print(f"  {what:58} p50 {pct(ms, 50):6.2f} ms  p95 {pct(ms, 95):6.2f} ms")


async def main(n: int) -> None:
    s = get_settings()
    token = s.resolved_api_key()
    if not token:
        raise SystemExit("no API key: run `shipway up` (or set SHIPWAY_API_KEY)")
    url = s.resolved_database_url()
    async with Database(url, role=s.gateway_db_role) as app_db, Database(url) as owner_db:
        recent = await owner_db.read(queries.runs, limit=1)
        if not recent:
            raise SystemExit("no runs yet: run `make demo` first")
        run = recent[0]
        row, _ = await app_db.read(key_store.authenticate, token)
        principal = Principal(key_id=row.id, prefix=row.prefix, tenant=row.tenant, role=Role(row.role))
        print(f"access-control overhead, {n} sequential calls each (run {run.id}, tenant {run.tenant})")
        line("key lookup (salted SHA-256 check)", await timed(n, lambda: app_db.read(key_store.authenticate, token)))
        for storage in ("postgres", "memory://"):
            limiter = RateLimiter.from_settings(s.model_copy(update={"rate_limit_storage": storage,
                                                                     "rate_limits": {principal.role.value: "1000000/second"},
                                                                     "rate_limit_per_address": "1000000/second"}))

            async def both(limiter: RateLimiter = limiter) -> None:
                await limiter.hit_address("127.0.0.1")
                await limiter.hit_key(principal)

            line(f"rate limits, address + key ({storage})", await timed(n, both))
            await limiter.close()
        line("run read as shipway_app, tenant set (RLS)", await timed(n, lambda: app_db.read(queries.run, run.id, as_tenant=run.tenant)))
        line("run read as the table owner (no RLS)", await timed(n, lambda: owner_db.read(queries.run, run.id)))
    async with httpx.AsyncClient(base_url=s.resolved_gateway_url(), headers=s.auth_headers(), timeout=60) as http:
        async def get() -> None:
            r = await http.get(f"/v1/runs/{run.id}")
            r.raise_for_status()

        line("GET /v1/runs/{id} through the gateway, one at a time", await timed(n, get))
        sem = asyncio.Semaphore(20)

        async def one() -> None:
            async with sem:
                await get()

        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        print(f"  GET /v1/runs/{{id}}, 20 in flight: {n / (time.perf_counter() - t0):.0f} requests/s")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=500)
    asyncio.run(main(ap.parse_args().n))
