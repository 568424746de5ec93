"""Run-completion webhooks (the LangGraph Platform API's ``webhook``): POST a finished run and its
thread's final values to the caller's URL, signed; Temporal retries what may succeed later.

Body: what LangGraph Platform sends (``langgraph_api``'s ``call_webhook``: the run's ``Run`` object
spread out, then ``status``, ``run_started_at``, ``run_ended_at``, ``webhook_sent_at``, ``values``
(the thread's final state values, or null), and ``error`` (a message) only when the run failed), so
a receiver written for the Platform reads Shipway's unchanged. The ``Run`` fields are those the
gateway's ``run_object`` shows (``kwargs`` empty: the run's input is not echoed); one extra key,
``shipway``, names the agent and version that ran. ``webhook_sent_at`` is fresh on each attempt.

Headers: ``X-Shipway-Signature`` and ``X-Shipway-Delivery`` (:mod:`shipway.run_webhook_signature`);
the Platform signs nothing, Shipway always signs, so a run cannot take a webhook without
``run_webhook_secret``.

Retries are Temporal's (the workflow's retry policy; see ``workflows.types.RunWebhook``). An attempt
raises a retryable ``ApplicationError`` (:data:`UNAVAILABLE`) when the receiver could not be reached
(connection, DNS, timeout) or answered 5xx or 429 (with ``next_retry_delay`` from a ``Retry-After``
in seconds), and a non-retryable one when retrying cannot help: :data:`REFUSED` (any other non-2xx;
redirects are not followed, as a redirect could lead past the address check), :data:`URL_REFUSED`
(not http/https, no host), :data:`ADDRESS_REFUSED` (the host resolves to an address that is not
globally routable: loopback, private, link-local, CGNAT, multicast, ...; allowed only with
``run_webhook_allow_private``), :data:`INVALID` (no secret, unknown status). The address is checked
before each attempt; the connection resolves the name again, so a name whose answer changes in
between (DNS rebinding) is not caught: keep workers behind an egress firewall where that matters.

Each attempt's outcome is logged (delivery id, run, host, status code, attempt); nothing is written
to the database.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import json
import socket
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.graph_runner import GraphActivities
from shipway.langgraph_api.assistants import assistant_id
from shipway.run_webhook_signature import DELIVERY_HEADER, SIGNATURE_HEADER, sign
from shipway.settings import Settings
from workflows.types import DELIVER_RUN_WEBHOOK, RunWebhook, RunWebhookResult

# ApplicationError types the activity raises
UNAVAILABLE = "RunWebhookUnavailable"  # retryable
REFUSED = "RunWebhookRefused"
URL_REFUSED = "RunWebhookUrlRefused"
ADDRESS_REFUSED = "RunWebhookAddressRefused"
INVALID = "RunWebhookInvalid"

PLATFORM_STATUSES = ("success", "error", "interrupted")
USER_AGENT = "Shipway-Webhooks/1"
MAX_RETRY_AFTER_S = 600  # a receiver's Retry-After is honoured up to this many seconds


def payload(inp: RunWebhook, sent_at: datetime) -> dict[str, Any]:
    """The JSON body of ``inp`` sent at ``sent_at`` (aware datetime), shaped as the Platform's (see
    the module docstring); times are ISO 8601 strings or null."""
    body: dict[str, Any] = {
        "run_id": inp.run_id, "thread_id": inp.thread_id, "assistant_id": assistant_id(inp.agent_name),
        "created_at": inp.created_at or None, "updated_at": inp.ended_at or inp.created_at or None,
        "status": inp.status, "metadata": inp.metadata, "kwargs": {}, "multitask_strategy": inp.multitask_strategy,
        "run_started_at": inp.created_at or None, "run_ended_at": inp.ended_at or None,
        "webhook_sent_at": sent_at.isoformat(), "values": inp.values,
        "shipway": {"agent_name": inp.agent_name, "version": inp.version},
    }
    if inp.error is not None:
        body["error"] = inp.error
    return body


def _not_global(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1 is 127.0.0.1
    ip = mapped or ip
    return not ip.is_global or ip.is_multicast


async def check_destination(url: str, allow_private: bool) -> httpx.URL:
    """Parse ``url`` and refuse what a run webhook may not reach; returns the parsed URL.

    Raises:
        ApplicationError: non-retryable :data:`URL_REFUSED` (unparsable, not http/https, no host)
            or :data:`ADDRESS_REFUSED` (a resolved address is not globally routable and
            ``allow_private`` is False); retryable :data:`UNAVAILABLE` when the name does not resolve.
    """
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ApplicationError(f"webhook URL is not a URL: {exc}", type=URL_REFUSED, non_retryable=True) from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ApplicationError(f"webhook URL must be http(s)://host/..., got scheme {parsed.scheme!r}",
                               type=URL_REFUSED, non_retryable=True)
    if allow_private:
        return parsed
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80),
                                                                 type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ApplicationError(f"webhook host {parsed.host} does not resolve: {exc}", type=UNAVAILABLE) from None
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%", 1)[0])  # drop an IPv6 scope id
        if _not_global(ip):
            raise ApplicationError(f"webhook host {parsed.host} resolves to {ip}, which is not a public address "
                                   "(set run_webhook_allow_private to allow it)", type=ADDRESS_REFUSED, non_retryable=True)
    return parsed


def _retry_after(response: httpx.Response) -> timedelta | None:
    value = response.headers.get("retry-after", "").strip()
    return timedelta(seconds=min(int(value), MAX_RETRY_AFTER_S)) if value.isdigit() else None


class RunWebhookActivities:
    """Delivers run-completion webhooks.

    Args:
        secret: signs every delivery (``run_webhook_secret``); None or empty: every delivery is
            refused (non-retryable :data:`INVALID`).
        allow_private: let webhooks reach non-global addresses (``run_webhook_allow_private``).
        timeout_s: longest one attempt may take to connect, and again for each read and write,
            seconds (httpx's timeout semantics).
    """

    def __init__(self, secret: str | None, allow_private: bool = False, timeout_s: float = 10.0,
                 graphs: GraphActivities | None = None) -> None:
        self.secret, self.allow_private, self.timeout_s = secret, allow_private, timeout_s
        self.graphs = graphs  # reads a successful run's final values when the input carries none

    @classmethod
    def from_settings(cls, settings: Settings, graphs: GraphActivities | None = None) -> RunWebhookActivities:
        """With the secret and address policy of ``settings``; ``graphs`` reads the runs' final values."""
        return cls(settings.run_webhook_secret, settings.run_webhook_allow_private, graphs=graphs)

    @activity.defn(name=DELIVER_RUN_WEBHOOK)
    async def deliver_run_webhook(self, inp: RunWebhook) -> RunWebhookResult:
        """POST ``inp`` (see the module docstring) once; returns the 2xx status and the attempt.

        Raises:
            ApplicationError: retryable :data:`UNAVAILABLE`, or non-retryable :data:`REFUSED`,
                :data:`URL_REFUSED`, :data:`ADDRESS_REFUSED`, :data:`INVALID` (module docstring).
        """
        attempt = activity.info().attempt
        if not self.secret:
            raise ApplicationError("run webhooks need run_webhook_secret (SHIPWAY_RUN_WEBHOOK_SECRET) to sign deliveries",
                                   type=INVALID, non_retryable=True)
        if inp.status not in PLATFORM_STATUSES:
            raise ApplicationError(f"run status {inp.status!r} is not one of {PLATFORM_STATUSES}", type=INVALID, non_retryable=True)
        target = await check_destination(inp.url, self.allow_private)
        if inp.values is None and inp.status == "success" and self.graphs is not None:
            inp = dataclasses.replace(inp, values=await self.graphs.thread_values(inp.agent_name, inp.version, inp.thread_id))
        body = json.dumps(payload(inp, datetime.now(UTC)), separators=(",", ":"), ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, DELIVERY_HEADER: inp.webhook_id,
                   SIGNATURE_HEADER: sign(self.secret, body, int(time.time()))}
        where = f"webhook {inp.webhook_id} of run {inp.run_id} to {target.host}"
        # trust_env off: no proxy from the environment (settings are the only reader of it), and
        # no redirects: the address check covers only the URL given
        async with httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False, trust_env=False) as client:
            try:
                response = await client.post(target, content=body, headers=headers)
            except httpx.TransportError as exc:
                activity.logger.warning("%s: attempt %d failed: %r", where, attempt, exc)
                raise ApplicationError(f"{where}: {type(exc).__name__}: {exc}", type=UNAVAILABLE) from None
        code = response.status_code
        if 200 <= code < 300:
            activity.logger.info("%s: delivered, %d (attempt %d)", where, code, attempt)
            return RunWebhookResult(status_code=code, attempt=attempt)
        if code == 429 or code >= 500:
            activity.logger.warning("%s: %d (attempt %d), will retry", where, code, attempt)
            raise ApplicationError(f"{where}: receiver answered {code}", code, type=UNAVAILABLE,
                                   next_retry_delay=_retry_after(response))
        activity.logger.warning("%s: refused with %d (attempt %d), not retried", where, code, attempt)
        raise ApplicationError(f"{where}: receiver answered {code}" + (" (redirects are not followed)" if 300 <= code < 400 else ""),
                               code, type=REFUSED, non_retryable=True)
