"""Run-completion webhooks: the deliver_run_webhook activity against a real HTTP receiver on loopback.

The receiver answers from a script (status, headers, delay per request, then 200) and keeps what it
received; signatures are checked with the verifier receivers use (shipway.run_webhook_signature).
"""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import timedelta

import pytest
from temporalio import workflow
from temporalio.client import WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.run_webhooks import ADDRESS_REFUSED, INVALID, REFUSED, UNAVAILABLE, URL_REFUSED, RunWebhookActivities, check_destination
from shipway.langgraph_api.assistants import assistant_id
from shipway.run_webhook_signature import DELIVERY_HEADER, SIGNATURE_HEADER, verify
from shipway.settings import Settings
from shipway.stack.ports import free_port
from tests.support.webhook_receiver import Receiver
from workflows.types import DELIVER_RUN_WEBHOOK, RunWebhook, RunWebhookResult

SECRET = "whsec-integration"


def webhook(url: str, **changes) -> RunWebhook:
    base = RunWebhook(url=url, run_id="run-7", thread_id="thread-7", tenant="acme", agent_name="credit-underwriting",
                      version=3, status="success", webhook_id="run-7", values={"decision": "approve", "score": 712},
                      metadata={"case": "C-19"}, created_at="2025-10-01T09:00:00+00:00", ended_at="2025-10-01T09:00:02+00:00",
                      multitask_strategy="enqueue")
    return dataclasses.replace(base, **changes)


def at_attempt(attempt: int) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(ActivityEnvironment.default_info(), attempt=attempt)
    return env


async def refused(activities: RunWebhookActivities, inp: RunWebhook) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(activities.deliver_run_webhook, inp)
    return caught.value


LOOPBACK_OK = RunWebhookActivities(SECRET, allow_private=True)


async def test_a_finished_run_is_posted_as_the_platform_sends_it_and_signed():
    with Receiver() as rx:
        result = await ActivityEnvironment().run(LOOPBACK_OK.deliver_run_webhook, webhook(rx.url))
    assert result == RunWebhookResult(status_code=200, attempt=1)
    [(headers, body)] = rx.received
    assert headers["content-type"] == "application/json"
    assert headers[DELIVERY_HEADER.lower()] == "run-7"
    assert verify(SECRET, body, headers[SIGNATURE_HEADER.lower()]) == pytest.approx(time.time(), abs=5)
    sent = json.loads(body)
    assert {k: sent[k] for k in ("run_id", "thread_id", "assistant_id", "status", "metadata", "values", "multitask_strategy")} == {
        "run_id": "run-7", "thread_id": "thread-7", "assistant_id": assistant_id("credit-underwriting"), "status": "success",
        "metadata": {"case": "C-19"}, "values": {"decision": "approve", "score": 712}, "multitask_strategy": "enqueue"}
    assert (sent["created_at"], sent["run_started_at"]) == ("2025-10-01T09:00:00+00:00",) * 2
    assert (sent["updated_at"], sent["run_ended_at"]) == ("2025-10-01T09:00:02+00:00",) * 2
    assert sent["webhook_sent_at"] > "2025" and sent["shipway"] == {"agent_name": "credit-underwriting", "version": 3}
    assert "error" not in sent  # the Platform adds it only for a failed run
    with pytest.raises(ValueError):
        verify(SECRET, body.replace(b"approve", b"decline"), headers[SIGNATURE_HEADER.lower()])


async def test_a_failed_run_carries_its_error_and_no_values():
    with Receiver() as rx:
        await ActivityEnvironment().run(LOOPBACK_OK.deliver_run_webhook,
                                        webhook(rx.url, status="error", values=None, error="ValueError: no income field"))
    sent = json.loads(rx.received[0][1])
    assert (sent["status"], sent["values"], sent["error"]) == ("error", None, "ValueError: no income field")


async def test_a_5xx_is_retryable_and_the_retry_is_the_same_delivery():
    with Receiver([(500, {}, 0.0)]) as rx:
        with pytest.raises(ApplicationError) as first:
            await at_attempt(1).run(LOOPBACK_OK.deliver_run_webhook, webhook(rx.url))
        second = await at_attempt(2).run(LOOPBACK_OK.deliver_run_webhook, webhook(rx.url))
    assert first.value.type == UNAVAILABLE and not first.value.non_retryable and first.value.details == (500,)
    assert second == RunWebhookResult(status_code=200, attempt=2)
    assert [h[DELIVERY_HEADER.lower()] for h, _ in rx.received] == ["run-7", "run-7"]
    for headers, body in rx.received:  # each attempt is signed afresh (webhook_sent_at changes the body)
        verify(SECRET, body, headers[SIGNATURE_HEADER.lower()])


async def test_a_429_is_retryable_after_the_receivers_retry_after():
    with Receiver([(429, {"Retry-After": "7"}, 0.0), (503, {"Retry-After": "86400"}, 0.0)]) as rx:
        throttled, unavailable = await refused(LOOPBACK_OK, webhook(rx.url)), await refused(LOOPBACK_OK, webhook(rx.url))
    assert throttled.type == UNAVAILABLE and not throttled.non_retryable
    assert throttled.next_retry_delay == timedelta(seconds=7)
    assert unavailable.next_retry_delay == timedelta(seconds=600)  # capped


@pytest.mark.parametrize("status", [400, 404, 410, 302])
async def test_other_answers_are_not_retried(status):
    with Receiver([(status, {"Location": "http://127.0.0.1:9/elsewhere"}, 0.0)]) as rx:
        error = await refused(LOOPBACK_OK, webhook(rx.url))
    assert error.type == REFUSED and error.non_retryable and error.details == (status,)
    assert len(rx.received) == 1  # a redirect is not followed


async def test_an_unreachable_or_slow_receiver_is_retryable():
    nobody = f"http://127.0.0.1:{free_port()}/hook"
    error = await refused(LOOPBACK_OK, webhook(nobody))
    assert error.type == UNAVAILABLE and not error.non_retryable and "ConnectError" in str(error)
    with Receiver([(200, {}, 2.0)]) as rx:
        error = await refused(RunWebhookActivities(SECRET, allow_private=True, timeout_s=0.3), webhook(rx.url))
    assert error.type == UNAVAILABLE and not error.non_retryable and "Timeout" in str(error)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "10.1.2.3", "192.168.0.10", "169.254.169.254", "100.64.0.1",
                                  "[::1]", "[::ffff:127.0.0.1]", "0.0.0.0"])
async def test_private_addresses_are_refused_unless_allowed(host):
    with Receiver() as rx:
        url = rx.url.replace("127.0.0.1", host)
        error = await refused(RunWebhookActivities(SECRET), webhook(url))
        assert error.type == ADDRESS_REFUSED and error.non_retryable
        if host in ("127.0.0.1", "localhost"):
            assert rx.received == []
            await ActivityEnvironment().run(LOOPBACK_OK.deliver_run_webhook, webhook(url))  # allowed by the setting
            assert len(rx.received) == 1


async def test_public_addresses_pass_the_address_check():
    for url in ("https://8.8.8.8/hook", "http://[2606:4700:4700::1111]:8080/hook"):
        assert (await check_destination(url, allow_private=False)).host in ("8.8.8.8", "2606:4700:4700::1111")


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/hook", "file:///etc/passwd", "gopher://127.0.0.1:70/_", "http:///no-host",
                                 "127.0.0.1:8080/hook"])
async def test_non_http_urls_are_refused_even_when_private_addresses_are_allowed(url):
    error = await refused(LOOPBACK_OK, webhook(url))
    assert error.type == URL_REFUSED and error.non_retryable


async def test_no_secret_or_an_unknown_status_is_refused_before_sending():
    with Receiver() as rx:
        unsigned = await refused(RunWebhookActivities(None, allow_private=True), webhook(rx.url))
        odd = await refused(LOOPBACK_OK, webhook(rx.url, status="running"))
    assert unsigned.type == odd.type == INVALID and unsigned.non_retryable and odd.non_retryable
    assert "SHIPWAY_RUN_WEBHOOK_SECRET" in str(unsigned)
    assert rx.received == []



async def test_the_secret_and_address_policy_come_from_the_settings(monkeypatch):
    monkeypatch.setenv("SHIPWAY_RUN_WEBHOOK_SECRET", "from-the-environment")
    assert RunWebhookActivities.from_settings(Settings()).allow_private is False  # the default
    monkeypatch.setenv("SHIPWAY_RUN_WEBHOOK_ALLOW_PRIVATE", "true")
    with Receiver() as rx:
        await ActivityEnvironment().run(RunWebhookActivities.from_settings(Settings()).deliver_run_webhook, webhook(rx.url))
    [(headers, body)] = rx.received
    verify("from-the-environment", body, headers[SIGNATURE_HEADER.lower()])

# The retry policy workflows.types.RunWebhook recommends, as the run workflow sets it.
RECOMMENDED_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                                maximum_interval=timedelta(seconds=60), maximum_attempts=5)


@workflow.defn(name="RunWebhookRetryProbe")
class RunWebhookRetryProbe:
    """Delivers one webhook with the recommended retry policy, as AgentRunWorkflow does at a run's end."""

    @workflow.run
    async def run(self, inp: RunWebhook) -> RunWebhookResult:
        return await workflow.execute_activity(DELIVER_RUN_WEBHOOK, inp, result_type=RunWebhookResult,
                                               start_to_close_timeout=timedelta(seconds=30), retry_policy=RECOMMENDED_RETRY)


async def test_temporal_retries_a_failing_receiver_until_it_takes_the_delivery_and_gives_up_on_a_refusal(temporal_env):
    client, queue = temporal_env.client, f"run-webhooks-{time.monotonic_ns()}"
    async with Worker(client, task_queue=queue, workflows=[RunWebhookRetryProbe], activities=[LOOPBACK_OK.deliver_run_webhook],
                      workflow_runner=UnsandboxedWorkflowRunner()):
        with Receiver([(500, {}, 0.0), (503, {}, 0.0)]) as rx:
            delivered = await client.execute_workflow(RunWebhookRetryProbe.run, webhook(rx.url), id=f"{queue}-retried",
                                                      task_queue=queue)
        assert delivered == RunWebhookResult(status_code=200, attempt=3)
        assert [h[DELIVERY_HEADER.lower()] for h, _ in rx.received] == ["run-7"] * 3
        with Receiver([(404, {}, 0.0)]) as rx:
            with pytest.raises(WorkflowFailureError) as failed:
                await client.execute_workflow(RunWebhookRetryProbe.run, webhook(rx.url), id=f"{queue}-refused", task_queue=queue)
        assert len(rx.received) == 1  # not retried
    activity_error = failed.value.cause
    assert isinstance(activity_error, ActivityError) and isinstance(activity_error.cause, ApplicationError)
    assert activity_error.cause.type == REFUSED
