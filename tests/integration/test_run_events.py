"""Run events through the real PostgreSQL: the workers' writer (``shipway_platform``) appends and
notifies in one transaction, gateway followers (``shipway_app``, tenant-scoped by row-level
security) replay from an id and follow by ``LISTEN/NOTIFY`` on their own connections."""

from __future__ import annotations

import asyncio
import random
import time
import uuid

import psycopg
import pytest
import pytest_asyncio
from langchain_core.messages import AIMessage

from activities.run_events import END, RunEventWriter, to_jsonable
from shipway.run_event_stream import Event, follow

pytestmark = pytest.mark.asyncio(loop_scope="session")

TENANT = "acme"
WAIT_S = 30.0  # upper bound on any collection; the happy path takes milliseconds


@pytest_asyncio.fixture(loop_scope="session")
async def writer(settings_env):
    """The workers' writer, as ``shipway_platform``, with room for concurrent appends."""
    async with RunEventWriter(settings_env.resolved_database_url(), role=settings_env.worker_db_role,
                              max_size=8) as w:
        yield w


@pytest.fixture
def gateway(settings_env):
    """``follow`` as a gateway process calls it (``shipway_app``), with a short heartbeat."""
    def start(run_id: str, after_id: int | None = None, tenant: str = TENANT, heartbeat_s: float = 5.0,
              until_end: bool = True):
        return follow(settings_env.resolved_database_url(), settings_env.gateway_db_role, run_id, tenant, after_id,
                      heartbeat_s, until_end)
    return start


def new_run() -> str:
    return str(uuid.uuid4())


async def events_of(stream, count: int | None = None) -> list[Event]:
    """The events (heartbeats dropped) ``stream`` yields until it ends, or until ``count`` of them."""
    async def collect() -> list[Event]:
        got = []
        async for item in stream:
            if item is not None:
                got.append(item)
                if count is not None and len(got) == count:
                    break
        return got
    try:
        return await asyncio.wait_for(collect(), WAIT_S)
    finally:
        await stream.aclose()


async def listening(stream) -> None:
    """Advance a fresh follower of an empty run to its first heartbeat: it has LISTENed, replayed
    nothing, and waits for a notification."""
    assert await asyncio.wait_for(anext(stream), WAIT_S) is None


async def test_append_keeps_the_order_given_and_json_of_messages(writer, gateway):
    run = new_run()
    first = await writer.append(run, TENANT, [("metadata", {"run_id": run}), ("values", {"n": 1})])
    second = await writer.append(run, TENANT, [("messages", [AIMessage(content="hi", id="m")]), ("values", {"n": 2}),
                                               (END, None)])
    assert first == sorted(first) and second == sorted(second) and first[-1] < second[0]
    assert await writer.append(run, TENANT, []) == []
    got = await events_of(gateway(run))
    assert [e.id for e in got] == first + second
    assert [(e.event, e.data) for e in got] == [
        ("metadata", {"run_id": run}), ("values", {"n": 1}),
        ("messages", [to_jsonable(AIMessage(content="hi", id="m"))]), ("values", {"n": 2}), (END, None)]


async def test_an_event_that_cannot_be_serialized_stores_nothing_of_its_batch(writer, gateway):
    run = new_run()
    with pytest.raises(TypeError):
        await writer.append(run, TENANT, [("values", {"ok": 1}), ("custom", object())])
    await writer.append(run, TENANT, [(END, None)])
    assert [e.event for e in await events_of(gateway(run))] == [END]


async def test_a_follower_started_before_the_writer_gets_everything(writer, gateway):
    run = new_run()
    stream = gateway(run, heartbeat_s=0.05)
    await listening(stream)
    written = []
    for i in range(20):
        written += await writer.append(run, TENANT, [("values", {"i": i})])
    written += await writer.append(run, TENANT, [(END, None)])
    got = await events_of(stream)
    assert [e.id for e in got] == written
    assert [e.data for e in got[:-1]] == [{"i": i} for i in range(20)]


async def test_a_follower_from_an_id_gets_every_later_event_once_while_many_write_at_once(writer, gateway):
    run = new_run()
    before = await writer.append(run, TENANT, [("values", {"w": "before", "i": i}) for i in range(100)])
    after_id = before[49]
    stream = gateway(run, after_id=after_id, heartbeat_s=0.05)
    collecting = asyncio.create_task(events_of(stream))

    async def write(w: int, rng: random.Random) -> list[int]:
        # 50 events in batches of 1-5, interleaved with the other writers on other connections
        ids, i = [], 0
        while i < 50:
            n = min(rng.randint(1, 5), 50 - i)
            ids += await writer.append(run, TENANT, [("updates", {"w": w, "i": i + k}) for k in range(n)])
            i += n
            await asyncio.sleep(0)
        return ids

    concurrent = await asyncio.gather(*(write(w, random.Random(w)) for w in range(10)))
    end = await writer.append(run, TENANT, [(END, None)])
    got = await collecting

    ids = [e.id for e in got]
    assert ids == sorted(set(ids)), "out of order or repeated"
    assert ids == sorted(before[50:] + [i for batch in concurrent for i in batch]) + end
    assert len(got) == 50 + 500 + 1
    for w in range(10):  # each writer's events in the order it wrote them
        assert [e.data["i"] for e in got if e.event == "updates" and e.data["w"] == w] == list(range(50))


async def test_two_followers_on_their_own_connections_both_get_all(writer, gateway):
    run = new_run()
    streams = [gateway(run, heartbeat_s=0.05) for _ in range(2)]
    for stream in streams:
        await listening(stream)
    both = asyncio.gather(*(events_of(s) for s in streams))
    written = []
    for i in range(30):
        written += await writer.append(run, TENANT, [("custom", {"i": i})] * (1 + i % 3))
    written += await writer.append(run, TENANT, [(END, None)])
    one, two = await both
    assert [e.id for e in one] == [e.id for e in two] == written


async def test_an_idle_follower_ticks_a_heartbeat_and_other_runs_do_not_wake_it(writer, gateway):
    run, other = new_run(), new_run()
    stream = gateway(run, heartbeat_s=1.0)
    try:
        await listening(stream)
        started = time.monotonic()
        await writer.append(other, TENANT, [("values", {"other": True})])
        assert await asyncio.wait_for(anext(stream), WAIT_S) is None  # the other run's notify was not an event
        assert time.monotonic() - started >= 0.9
        ticked = time.monotonic()
        await writer.append(run, TENANT, [("values", {"mine": True})])
        event = await asyncio.wait_for(anext(stream), WAIT_S)
        assert (event.event, event.data) == ("values", {"mine": True})
        assert time.monotonic() - ticked < 0.8  # woken by its notify, not by the next tick
        assert await asyncio.wait_for(anext(stream), WAIT_S) is None
    finally:
        await stream.aclose()


async def test_a_follower_stops_after_end_unless_told_to_keep_following(writer, gateway):
    run = new_run()
    await writer.append(run, TENANT, [("values", {"n": 1}), (END, None), ("values", {"late": True})])
    assert [e.event for e in await events_of(gateway(run))] == ["values", END]
    assert [e.event for e in await events_of(gateway(run, until_end=False), count=3)] == ["values", END, "values"]


async def test_a_gateway_follower_sees_only_its_tenants_events(writer, gateway):
    run = new_run()
    await writer.append(run, TENANT, [("values", {"secret": 1}), (END, None)])
    assert [e.event for e in await events_of(gateway(run))] == ["values", END]
    stranger = gateway(run, tenant="globex", heartbeat_s=0.05)
    try:
        for _ in range(3):  # nothing but heartbeats: the run looks empty to another tenant
            assert await asyncio.wait_for(anext(stranger), WAIT_S) is None
    finally:
        await stranger.aclose()


async def test_the_gateway_role_cannot_write_events(settings_env):
    async with RunEventWriter(settings_env.resolved_database_url(), role=settings_env.gateway_db_role) as w:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            await w.append(new_run(), TENANT, [("values", {"forged": True})])
