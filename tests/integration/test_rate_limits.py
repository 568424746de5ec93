"""Gateway rate limits on a real PostgreSQL: the `limits` storage over ``rate_limit_counters``
(counting, windows, expiry, sweeping, atomic increments from two connection pools), the limiter's
refusals, and two real gateway processes (uvicorn) sharing one per-key and one per-address budget
(429 with ``Retry-After``, one ``ratelimit.hit`` audit event per window)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import httpx
import psycopg
import pytest
from limits.storage import storage_from_string

from shipway.auth import keys
from shipway.auth.keys import Principal
from shipway.auth.roles import Role
from shipway.gateway import rate_limit_storage
from shipway.gateway.rate_limit import RateLimiter, Refusal
from shipway.gateway.rate_limit_storage import PostgresStorage
from tests.support.gateways import gateway_processes
from tests.support.keys import bearer, make_key

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]



def _key() -> str:
    return f"test/{uuid.uuid4().hex}"


def _row(pg_url: str, key: str) -> tuple | None:
    with psycopg.connect(pg_url) as conn:
        return conn.execute("SELECT count, expires_at FROM rate_limit_counters WHERE key = %s", (key,)).fetchone()


async def test_storage_counts_within_a_window_and_starts_over_after_it(pg_url):
    storage = PostgresStorage(pg_url)
    key = _key()
    try:
        assert await storage.check()
        assert await storage.get(key) == 0
        assert abs(await storage.get_expiry(key) - time.time()) < 1  # no window: it "ends" now

        assert await storage.incr(key, 1) == 1
        assert await storage.incr(key, 1, amount=2) == 3
        assert await storage.get(key) == 3
        ends = await storage.get_expiry(key)
        assert time.time() < ends <= time.time() + 1.1

        await asyncio.sleep(ends - time.time() + 0.1)
        assert await storage.get(key) == 0  # the row is still there, but its window has passed
        assert _row(pg_url, key)[0] == 3
        assert await storage.incr(key, 60) == 1  # the upsert restarts an expired row
        assert time.time() + 58 < await storage.get_expiry(key) <= time.time() + 60.1
    finally:
        await storage.close()


async def test_storage_clear_reset_and_the_limits_registry(pg_url):
    storage = storage_from_string(f"async+{pg_url}")
    assert isinstance(storage, PostgresStorage)
    one, two = _key(), _key()
    try:
        await storage.incr(one, 60)
        await storage.incr(two, 60)
        await storage.clear(one)
        assert (await storage.get(one), await storage.get(two)) == (0, 1)
        assert _row(pg_url, one) is None

        assert await storage.reset() >= 1
        assert _row(pg_url, two) is None
    finally:
        await storage.close()
    assert not await storage.check()  # a closed pool is an unhealthy storage, not a crash


async def test_storage_sweeps_rows_whose_window_has_passed(pg_url, monkeypatch):
    monkeypatch.setattr(rate_limit_storage, "SWEEP_INTERVAL_S", 0.0)  # sweep on every incr
    storage = PostgresStorage(pg_url)
    gone, live = _key(), _key()
    try:
        await storage.incr(gone, 1)
        await asyncio.sleep(1.1)
        await storage.incr(live, 60)
        assert _row(pg_url, gone) is None
        assert _row(pg_url, live)[0] == 1
    finally:
        await storage.close()


async def test_concurrent_increments_from_two_pools_each_see_their_own_count(pg_url):
    first, second = PostgresStorage(pg_url), PostgresStorage(pg_url)
    key = _key()
    try:
        counts = await asyncio.gather(*(s.incr(key, 60) for _ in range(50) for s in (first, second)))
        # atomic: every increment saw a distinct count, so none was lost or seen twice
        assert sorted(counts) == list(range(1, 101))
        assert await first.get(key) == await second.get(key) == 100
    finally:
        await first.close()
        await second.close()


@pytest.mark.parametrize("storage", ["postgres", "memory://"])
async def test_limiter_refuses_past_the_limit_and_flags_the_first_refusal(settings_env, storage):
    settings = settings_env.model_copy(update={"rate_limits": {"viewer": "3/minute"}, "rate_limit_storage": storage,
                                               "rate_limit_per_address": "2 per 10 seconds"})
    limiter = RateLimiter.from_settings(settings)
    viewer = Principal(key_id=str(uuid.uuid4()), prefix="0" * 12, tenant="default", role=Role.VIEWER)
    admin = Principal(key_id=str(uuid.uuid4()), prefix="1" * 12, tenant="default", role=Role.ADMIN)
    address = f"test-{uuid.uuid4().hex}"
    try:
        assert [await limiter.hit_key(viewer) for _ in range(3)] == [None] * 3
        first, second = await limiter.hit_key(viewer), await limiter.hit_key(viewer)
        assert first == Refusal(limit="3/minute", retry_after_s=first.retry_after_s, first_in_window=True)
        assert 58 <= first.retry_after_s <= 60
        assert second.first_in_window is False
        assert [await limiter.hit_key(admin) for _ in range(10)] == [None] * 10  # no limit for the role

        assert [await limiter.hit_address(address) for _ in range(2)] == [None, None]
        refused = await limiter.hit_address(address)
        assert refused.limit == "2 per 10 seconds" and 1 <= refused.retry_after_s <= 10 and refused.first_in_window
    finally:
        await limiter.close()


def _ratelimit_events(pg_url: str, actor_like: str, limit: str) -> int:
    with psycopg.connect(pg_url) as conn:
        return conn.execute("SELECT count(*) FROM audit_events WHERE action = 'ratelimit.hit' AND actor LIKE %s "
                            "AND detail->>'limit' = %s", (actor_like, limit)).fetchone()[0]


def _assert_limited(r: httpx.Response, window_s: int) -> None:
    assert r.status_code == 429, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert "error" in r.json()
    assert 1 <= int(r.headers["Retry-After"]) <= window_s


async def test_a_burst_past_the_key_limit_gets_429_across_two_gateway_processes(settings_env, pg_url, tmp_path):
    token = await make_key(role="viewer", name=f"burst-{uuid.uuid4().hex[:6]}")
    prefix = keys.parse(token)[0]
    env = {"SHIPWAY_RATE_LIMITS": json.dumps({"viewer": "5/minute", "admin": "200/second"})}
    async with gateway_processes(2, env, tmp_path) as urls, httpx.AsyncClient(timeout=10) as http:
        answers = [await http.get(f"{urls[i % 2]}/v1/agents", headers=bearer(token)) for i in range(7)]
    # each process saw at most 4 requests, so only a shared counter refuses the 6th
    assert [r.status_code for r in answers[:5]] == [200] * 5, [r.text for r in answers]
    for r in answers[5:]:
        _assert_limited(r, 60)
    assert "per key" in answers[5].json()["error"]
    assert _ratelimit_events(pg_url, f"key:{prefix}%", "5/minute") == 1  # two refusals, one event


async def test_a_burst_past_the_address_limit_gets_429_without_a_key(settings_env, pg_url, tmp_path):
    async with gateway_processes(2, {"SHIPWAY_RATE_LIMIT_PER_ADDRESS": "4/minute"}, tmp_path) as urls, \
            httpx.AsyncClient(timeout=10) as http:
        answers = [await http.get(f"{urls[i % 2]}/v1/agents") for i in range(6)]
    assert [r.status_code for r in answers[:4]] == [401] * 4, [r.text for r in answers]
    for r in answers[4:]:
        _assert_limited(r, 60)
    assert "per address" in answers[4].json()["error"]
    assert _ratelimit_events(pg_url, "address:127.0.0.1", "4/minute") == 1
