"""Jira admin webhooks to approval signals: verify, read, map, signal, re-drive.

A delivery's signature is ``X-Hub-Signature: sha256=<hex>``, the HMAC-SHA256 of the raw body
under the webhook's secret (Jira Cloud, "Securing admin webhooks":
https://developer.atlassian.com/cloud/jira/platform/webhooks/#secure-admin-webhooks); every
configured secret is tried, so a secret can be rotated without losing deliveries. A
``jira:issue_updated`` delivery whose changelog moves an issue Shipway opened to a status that
stands for a decision (``jira_status_decisions``) becomes an ``approve`` / ``reject`` signal of the
version's lifecycle workflow, as the Shipway identity the Jira account maps to (``jira_users``);
an unmapped account is signalled too, without an approver, so the workflow refuses and records it.
The gateway route, ``shipway webhooks replay`` and the console's replay button share this module.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

from temporalio.client import Client
from temporalio.service import RPCError

from activities import webhook_deliveries
from activities.audit_log import append_event
from shipway import queries
from shipway.db.engine import Database
from shipway.settings import Settings
from workflows.statuses import ApprovalChannel, ApprovalKind, WebhookOutcome
from workflows.types import SIGNAL_APPROVE, SIGNAL_REJECT, ApprovalDecision, AuditRecord

SOURCE = "jira"
# Headers kept with each delivery (lower case, as ASGI gives them); the signature itself is not kept.
HEADERS_OF_INTEREST = ("x-atlassian-webhook-identifier", "x-atlassian-webhook-retry", "x-atlassian-webhook-flow",
                       "user-agent", "content-type", "content-length")


def signature_valid(body: bytes, header: str | None, secrets: list[str]) -> bool:
    """Whether ``header`` (``sha256=<hex>``) is the HMAC-SHA256 of ``body`` under one of ``secrets``.
    Compared in constant time (:func:`hmac.compare_digest`); False for a missing or malformed header
    or when no secret is configured."""
    if not header or not header.startswith("sha256=") or not secrets:
        return False
    given = header.removeprefix("sha256=").strip().lower()
    valid = False
    for secret in secrets:  # every secret is tried, so timing does not say which one matched
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        valid |= hmac.compare_digest(expected, given)
    return valid


class MalformedDelivery(ValueError):
    """A verified body that is not a Jira webhook payload (not JSON, or fields of the wrong type)."""


@dataclass(frozen=True)
class JiraDecision:
    """What a delivery decides: the issue, approve or reject, the Jira account that moved it (and
    its display name), the status it moved to, and the reason (the comment made with the move)."""

    issue_key: str
    decision: ApprovalKind
    account_id: str
    display_name: str
    to_status: str
    reason: str


def read_decision(body: bytes, settings: Settings) -> tuple[str | None, JiraDecision | str]:
    """Read a verified delivery: ``(event, decision)``, or ``(event, why it decides nothing)``.

    Shape read (Jira Cloud webhook payload): ``webhookEvent``, ``user.accountId``,
    ``issue.key``, ``changelog.items[] {field, toString}``, optional ``comment.body``.

    Raises:
        MalformedDelivery: not a JSON object, or those fields have the wrong types.
    """
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedDelivery(f"body is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise MalformedDelivery("body is not a JSON object")
    event = payload.get("webhookEvent")
    if event != "jira:issue_updated":
        return (event if isinstance(event, str) else None), f"event {event!r} decides nothing"
    issue, user = payload.get("issue"), payload.get("user")
    changelog = payload.get("changelog") or {}
    if not isinstance(issue, dict) or not isinstance(issue.get("key"), str) or not isinstance(changelog, dict):
        raise MalformedDelivery("jira:issue_updated without an issue key or with a malformed changelog")
    items = changelog.get("items") or []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise MalformedDelivery("changelog.items must be a list of objects")
    moved_to = next((i.get("toString") for i in items if i.get("field") == "status"), None)
    if not isinstance(moved_to, str):
        return event, f"{issue['key']}: no status change"
    decision = next((d for status, d in settings.jira_status_decisions.items() if status.lower() == moved_to.lower()), None)
    if decision is None:
        return event, f"{issue['key']}: status {moved_to!r} stands for no decision"
    if not isinstance(user, dict) or not isinstance(user.get("accountId"), str):
        raise MalformedDelivery("a status change without user.accountId")
    comment = payload.get("comment")
    reason = comment.get("body") if isinstance(comment, dict) and isinstance(comment.get("body"), str) else ""
    return event, JiraDecision(issue_key=issue["key"], decision=ApprovalKind(decision), account_id=user["accountId"],
                               display_name=str(user.get("displayName") or ""), to_status=moved_to, reason=reason.strip())


async def drive(client: Client, db: Database, settings: Settings, delivery_id: int) -> tuple[WebhookOutcome | None, str]:
    """Turn a claimed, verified delivery (a dead letter until signalled) into its signal and settle
    it; returns ``(outcome, detail)``, or ``(None, why)`` when it is not a dead letter any more or
    another request is driving it.

    ``ignored``: decides nothing, an issue Shipway did not open, or Shipway's own move (its account);
    ``malformed``: see :func:`read_decision`; ``signalled``; ``dead_letter``: the workflow could not
    be signalled (Temporal unreachable, or the workflow is closed), kept for a replay.
    """
    async with webhook_deliveries.driving(db, delivery_id) as driver:
        if driver is None:
            return None, f"delivery {delivery_id} is settled or being driven by another request"
        outcome, detail = await _drive(client, db, settings, driver)
        return outcome, detail


async def _drive(client: Client, db: Database, settings: Settings, driver: webhook_deliveries.Driver) -> tuple[WebhookOutcome, str]:
    try:
        event, found = read_decision((driver.row.body or "").encode(), settings)
    except MalformedDelivery as exc:
        driver.settle(WebhookOutcome.MALFORMED, str(exc))
        return WebhookOutcome.MALFORMED, str(exc)
    if isinstance(found, str):
        driver.settle(WebhookOutcome.IGNORED, found, event=event)
        return WebhookOutcome.IGNORED, found
    request = await db.read(queries.approval_request_by_issue, found.issue_key)
    fields = dict(event=event, issue_key=found.issue_key, decision=found.decision, jira_account_id=found.account_id)
    if request is None:
        why = f"{found.issue_key} is not an approval issue Shipway opened"
        driver.settle(WebhookOutcome.IGNORED, why, **fields)
        return WebhookOutcome.IGNORED, why
    if request.jira_account_id and found.account_id == request.jira_account_id:
        why = f"{found.issue_key} was moved by Shipway's own Jira account (a decision taken in another channel)"
        driver.settle(WebhookOutcome.IGNORED, why, **fields)
        return WebhookOutcome.IGNORED, why
    approver = settings.jira_users.get(found.account_id, "")
    reason = found.reason or (f"moved to {found.to_status} in Jira {found.issue_key}" if found.decision == ApprovalKind.APPROVE else "")
    payload = ApprovalDecision(approver=approver, reason=reason, channel=ApprovalChannel.JIRA, jira_account=found.account_id,
                               jira_issue=found.issue_key)
    fields.update(approver=approver or None, workflow_id=request.workflow_id)
    signal = SIGNAL_APPROVE if found.decision == ApprovalKind.APPROVE else SIGNAL_REJECT
    try:
        await client.get_workflow_handle(request.workflow_id).signal(signal, payload)
    except (RPCError, RuntimeError, OSError) as exc:
        why = f"could not signal {request.workflow_id}: {exc}"
        driver.settle(WebhookOutcome.DEAD_LETTER, why, attempted=True, **fields)
        return WebhookOutcome.DEAD_LETTER, why
    who = approver or f"unmapped Jira account {found.account_id} (the workflow refuses it)"
    detail = f"{signal} of {request.workflow_id} as {who}"
    driver.settle(WebhookOutcome.SIGNALLED, detail, attempted=True, **fields)
    return WebhookOutcome.SIGNALLED, detail


async def replay(client: Client, db: Database, settings: Settings, actor: str,
                 delivery_ids: list[int] | None = None) -> list[tuple[int, WebhookOutcome, str]]:
    """Re-drive dead letters (all of them, or those of ``delivery_ids``) from their stored bodies, as
    ``actor`` (each re-driven one is a ``webhook.replayed`` audit event); returns ``(id, outcome,
    detail)`` for each. A delivery that is not a dead letter is left alone and reported with its
    current outcome, so a replay never signals twice.

    Raises:
        LookupError: one of ``delivery_ids`` does not exist.
    """
    rows = await db.read(queries.webhook_deliveries, delivery_ids) if delivery_ids else \
        await db.read(queries.webhook_deliveries, outcome=WebhookOutcome.DEAD_LETTER)
    if delivery_ids:
        missing = set(delivery_ids) - {r.id for r in rows}
        if missing:
            raise LookupError(f"no webhook delivery {', '.join(map(str, sorted(missing)))}")
    results = []
    for row in rows:
        if row.outcome != WebhookOutcome.DEAD_LETTER:
            results.append((row.id, WebhookOutcome(row.outcome), "not a dead letter: left alone"))
            continue
        outcome, detail = await drive(client, db, settings, row.id)
        results.append((row.id, outcome or WebhookOutcome(row.outcome), detail))
        async with db.session() as s:
            await append_event(s, AuditRecord(actor=actor, action="webhook.replayed", subject=f"webhook:{row.source}",
                                              detail={"delivery": row.id, "outcome": str(outcome), "detail": detail}))
            await s.commit()
    return results
