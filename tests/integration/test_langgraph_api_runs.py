"""The LangGraph Platform API's threads and runs, driven by the real ``langgraph-sdk`` client against
the gateway (ASGI, real lifespan) on a real Temporal server and PostgreSQL: a run that stops at an
interrupt ends ``success`` with the thread ``interrupted``; a new run with ``command={"resume": ...}``
answers it; background runs are joined; ``multitask_strategy="reject"`` is a 409 on a busy thread;
a graph that raises makes ``runs.wait`` raise; cancel ends a run ``interrupted`` and frees its thread, as
``multitask_strategy="interrupt"`` does for the run holding a thread;
a ``webhook`` receives the ended run and its values, signed, after a retry."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
import pytest_asyncio
from langgraph_sdk.client import LangGraphClient

from shipway import queries
from shipway.gateway.app import create_app
from tests.support.keys import make_key
from tests.support.lifecycle import shared_counting
from workflows.statuses import RunStatus

pytestmark = pytest.mark.asyncio(loop_scope="session")
YES = {"decision": "yes", "reviewer": "uma.underwriter", "note": "checked"}


@pytest_asyncio.fixture(loop_scope="session")
async def sdk(worker):
    """The real langgraph-sdk client on the gateway app (ASGI), authenticated with ``x-api-key``."""
    app = create_app()
    async with app.router.lifespan_context(app):
        key = await make_key()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway",
                                     headers={"x-api-key": key}, timeout=60) as http:
            yield LangGraphClient(http)


async def test_wait_stops_at_the_interrupt_and_a_resume_command_finishes_the_thread(worker, db, sdk, tmp_path):
    name = await shared_counting(worker, db)
    log = tmp_path / "nodes.log"
    thread = await sdk.threads.create(metadata={"case": "platform"})
    assert thread["metadata"]["case"] == "platform"

    first = await sdk.runs.wait(thread["thread_id"], name, input={"log_path": str(log), "ask": True})
    [interrupt] = first["__interrupt__"]
    assert interrupt["value"]["kind"] == "counting_continue" and first["visited"] == ["a"]
    [run] = await sdk.runs.list(thread["thread_id"])
    assert run["status"] == "success" and run["metadata"] == {}
    row = await db.read(queries.thread, thread["thread_id"])
    assert row.agent_name == name and row.active_run_id is None
    assert (await sdk.threads.get(thread["thread_id"]))["status"] == "interrupted"
    state = await sdk.threads.get_state(thread["thread_id"])
    assert state["next"] == ["b"] and state["interrupts"][0]["value"] == interrupt["value"]

    done = await sdk.runs.wait(thread["thread_id"], name, command={"resume": YES}, metadata={"step": 2})
    assert "__interrupt__" not in done and done["visited"] == ["a", "b", "c"]
    assert log.read_text().split() == ["a", "b", "c"]  # nothing ran twice across the two runs
    runs = await sdk.runs.list(thread["thread_id"])
    assert [r["status"] for r in runs] == ["success", "success"] and runs[0]["metadata"] == {"step": 2}
    [event] = await db.read(queries.audit_events, f"run:{runs[0]['run_id']}", "run.resumed")
    assert event.detail["value"] == YES


async def test_a_background_run_is_joined_and_reject_refuses_a_busy_thread(worker, db, sdk, tmp_path):
    name = await shared_counting(worker, db)
    thread = await sdk.threads.create()
    run = await sdk.runs.create(thread["thread_id"], name, input={"log_path": str(tmp_path / "l"), "delay_s": 1.5})
    assert run["status"] == "running" and run["thread_id"] == thread["thread_id"]
    with pytest.raises(httpx.HTTPStatusError) as refused:
        await sdk.runs.create(thread["thread_id"], name, input={"log_path": str(tmp_path / "l")},
                              multitask_strategy="reject")
    assert refused.value.response.status_code == 409
    values = await sdk.runs.join(thread["thread_id"], run["run_id"])
    assert values["visited"] == ["a", "b", "c"]
    assert (await sdk.runs.get(thread["thread_id"], run["run_id"]))["status"] == "success"


async def test_enqueue_runs_after_the_run_holding_the_thread(worker, db, sdk, tmp_path):
    name = await shared_counting(worker, db)
    thread = await sdk.threads.create()
    log = tmp_path / "l"
    first = await sdk.runs.create(thread["thread_id"], name, input={"log_path": str(log), "delay_s": 1.0, "message": "one"})
    second = await sdk.runs.create(thread["thread_id"], name, input={"log_path": str(log), "message": "two"},
                                   multitask_strategy="enqueue")
    assert (await sdk.runs.join(thread["thread_id"], second["run_id"]))["message"] == "two"
    assert (await sdk.runs.get(thread["thread_id"], first["run_id"]))["status"] == "success"
    assert log.read_text().split() == ["a", "b", "c", "a", "b", "c"]  # one after the other, never interleaved


async def test_a_graph_that_raises_makes_wait_raise(worker, db, sdk, tmp_path):
    name = await shared_counting(worker, db)
    with pytest.raises(Exception, match="asked to fail in node b"):
        await sdk.runs.wait(None, name, input={"log_path": str(tmp_path / "l"), "fail": True})
    body = await sdk.runs.wait(None, name, input={"log_path": str(tmp_path / "l"), "fail": True}, raise_error=False)
    assert "asked to fail" in body["__error__"]["message"]


async def test_cancel_ends_the_run_interrupted_and_frees_the_thread(worker, db, sdk, tmp_path):
    name = await shared_counting(worker, db)
    thread = await sdk.threads.create()
    run = await sdk.runs.create(thread["thread_id"], name, input={"log_path": str(tmp_path / "l"), "delay_s": 5})
    await asyncio.sleep(0.5)
    await sdk.runs.cancel(thread["thread_id"], run["run_id"], wait=True)
    row = await db.read(queries.run, run["run_id"])
    assert row.status == RunStatus.CANCELLED, (row.status, row.error)
    assert (await sdk.runs.get(thread["thread_id"], run["run_id"]))["status"] == "interrupted"
    assert (await db.read(queries.thread, thread["thread_id"])).active_run_id is None
    again = await sdk.runs.wait(thread["thread_id"], name, input={"log_path": str(tmp_path / "l2")})
    # the cancelled run's node ``a`` was running (a sync node cannot be stopped): it finished and its step was
    # kept, as the Platform keeps a cancelled run's work; the new run waited for it (the thread's step lock)
    assert again["visited"] == ["a", "a", "b", "c"]


async def test_interrupt_cancels_the_run_holding_the_thread_and_runs_the_new_one(worker, db, sdk, tmp_path):
    name = await shared_counting(worker, db)
    thread = await sdk.threads.create()
    holding = await sdk.runs.create(thread["thread_id"], name,
                                    input={"log_path": str(tmp_path / "l"), "delay_s": 5, "message": "one"})
    await asyncio.sleep(0.5)
    done = await sdk.runs.wait(thread["thread_id"], name, input={"log_path": str(tmp_path / "l2"), "message": "two"},
                               multitask_strategy="interrupt")
    # the holding run's node ``a`` finished and was kept (work done until the interrupt is saved), then "two" ran
    assert done["message"] == "two" and done["visited"] == ["a", "a", "b", "c"]
    assert (await sdk.runs.get(thread["thread_id"], holding["run_id"]))["status"] == "interrupted"
    assert (await db.read(queries.run, holding["run_id"])).status == RunStatus.CANCELLED


async def test_unknown_assistant_thread_and_unimplemented_fields_are_clear_errors(worker, db, sdk, tmp_path):
    name = await shared_counting(worker, db)
    for call, status in (
        (sdk.runs.wait(None, "no-such-agent", input={}), 404),
        (sdk.runs.wait(str(uuid.uuid4()), name, input={"log_path": "x"}), 404),
        (sdk.runs.wait(None, name, input={"log_path": "x"}, interrupt_before=["b"]), 422),
        (sdk.runs.wait(None, name, input={"nope": 1}), 422),
    ):
        with pytest.raises(httpx.HTTPStatusError) as exc:
            await call
        assert exc.value.response.status_code == status, exc.value.response.text
        assert exc.value.response.json()["detail"]
    made = await sdk.runs.wait(str(uuid.uuid4()), name, input={"log_path": str(tmp_path / "l")}, if_not_exists="create")
    assert made["visited"] == ["a", "b", "c"]


@pytest.fixture
def webhook_settings(settings_env, monkeypatch):
    """Run webhooks signed with a test secret and allowed to reach the loopback receiver; list it
    before ``worker`` so the workers see it."""
    from shipway.settings import get_settings

    monkeypatch.setenv("SHIPWAY_RUN_WEBHOOK_SECRET", "whsec-e2e")
    monkeypatch.setenv("SHIPWAY_RUN_WEBHOOK_ALLOW_PRIVATE", "true")
    get_settings.cache_clear()
    return "whsec-e2e"


async def test_a_webhook_gets_the_ended_run_and_its_values_signed(webhook_settings, worker, db, sdk, tmp_path):
    from shipway.run_webhook_signature import DELIVERY_HEADER, SIGNATURE_HEADER, verify
    from tests.support.webhook_receiver import Receiver

    name = await shared_counting(worker, db)
    with Receiver([(503, {}, 0.0)]) as receiver:  # the first delivery is refused for now: retried
        values = await sdk.runs.wait(None, name, input={"log_path": str(tmp_path / "l")}, webhook=receiver.url,
                                     metadata={"ticket": "T-1"})
        for _ in range(100):
            if len(receiver.received) == 2:
                break
            await asyncio.sleep(0.1)
    assert len(receiver.received) == 2
    (h1, _), (headers, body) = receiver.received
    verify(webhook_settings, body, headers[SIGNATURE_HEADER.lower()])
    assert h1[DELIVERY_HEADER.lower()] == headers[DELIVERY_HEADER.lower()]
    sent = json.loads(body)
    assert sent["status"] == "success" and sent["values"] == values and sent["metadata"] == {"ticket": "T-1"}

    with pytest.raises(httpx.HTTPStatusError) as refused:
        await sdk.runs.wait(None, name, input={"log_path": "x"}, webhook="ftp://example.com/hook")
    assert refused.value.response.status_code == 422 and "webhook" in refused.value.response.json()["detail"]
