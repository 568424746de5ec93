"""``POST /webhooks/jira``: Jira admin webhooks (``jira:issue_updated``) to approval signals.

No API key: a delivery proves itself with ``X-Hub-Signature`` (HMAC-SHA256 of the raw body under
one of ``jira_webhook_secrets``); only the per-address rate limit applies. In order: a body over
``webhook_max_body_bytes`` is refused (413) unread; a missing (``unsigned``) or wrong (``forged``)
signature is refused (401); a verified delivery is claimed by ``X-Atlassian-Webhook-Identifier``,
so a retried one is a ``duplicate`` (200, signals nothing; it re-drives the first when that one is
a dead letter); then it is read and signalled (:mod:`shipway.jira_webhooks`). A delivery that
could not be signalled is a dead letter (503, so Jira retries it; ``shipway webhooks replay`` and
the console re-drive it too). Every delivery is recorded, every refusal is an audit event.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from temporalio.client import Client

from activities import webhook_deliveries
from shipway import jira_webhooks
from shipway.db.engine import Database
from shipway.gateway.auth import audit, client_address, limit_address
from shipway.gateway.deps import get_client, get_db, get_settings
from shipway.gateway.errors import RESPONSES, ApiError
from shipway.gateway.schemas import WebhookAck
from shipway.settings import Settings
from workflows.statuses import WebhookOutcome

router = APIRouter(tags=["webhooks"])
_RESPONSES = {
    400: {"description": "Verified, but not a Jira webhook payload, or without X-Atlassian-Webhook-Identifier",
          "model": RESPONSES[401]["model"]},
    401: {"description": "Missing or wrong X-Hub-Signature; nothing was signalled", "model": RESPONSES[401]["model"]},
    413: RESPONSES[413],
    429: RESPONSES[429],
    503: {"description": "Verified, but its workflow could not be signalled: kept as a dead letter (Jira retries it)",
          "model": RESPONSES[401]["model"]},
}


async def _bounded_body(request: Request, max_bytes: int) -> bytes | None:
    """The raw body, or None once it exceeds ``max_bytes`` (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


# The body is read raw (the signature covers its exact bytes); this documents its shape for clients and fuzzers.
_PAYLOAD = {"type": "object", "required": ["webhookEvent"], "description": "A Jira admin webhook payload "
            "(https://developer.atlassian.com/cloud/jira/platform/webhooks/), signed in X-Hub-Signature.",
            "properties": {
                "webhookEvent": {"type": "string", "example": "jira:issue_updated"},
                "timestamp": {"type": "integer"},
                "user": {"type": "object", "properties": {"accountId": {"type": "string"}, "displayName": {"type": "string"}}},
                "issue": {"type": "object", "properties": {"key": {"type": "string", "example": "APPR-12"}}},
                "changelog": {"type": "object", "properties": {"items": {"type": "array", "items": {
                    "type": "object", "properties": {"field": {"type": "string"}, "toString": {"type": "string"}}}}}},
                "comment": {"type": "object", "properties": {"body": {"type": "string"}}}}}
_OPENAPI = {"requestBody": {"required": True, "content": {"application/json": {"schema": _PAYLOAD}}},
            "parameters": [{"name": "X-Hub-Signature", "in": "header", "required": True, "schema": {"type": "string"},
                            "description": "sha256=<hex HMAC-SHA256 of the raw body>"},
                           {"name": "X-Atlassian-Webhook-Identifier", "in": "header", "required": True,
                            "schema": {"type": "string"}, "description": "The delivery's id, the same on every retry"}]}


@router.post("/webhooks/jira", response_model=WebhookAck, responses=_RESPONSES, openapi_extra=_OPENAPI)
async def jira_webhook(request: Request, db: Annotated[Database, Depends(get_db)], client: Annotated[Client, Depends(get_client)],
                       settings: Annotated[Settings, Depends(get_settings)]) -> WebhookAck:
    """Take one Jira webhook delivery; see the module docstring for what happens to it."""
    await limit_address(request, db)
    headers = {k: v for k in jira_webhooks.HEADERS_OF_INTEREST if (v := request.headers.get(k)) is not None}
    seen = dict(source=jira_webhooks.SOURCE, identifier=headers.get("x-atlassian-webhook-identifier"),
                client_address=client_address(request), headers=headers)
    body = await _bounded_body(request, settings.webhook_max_body_bytes)
    if body is None:
        declared = request.headers.get("content-length", "")
        await webhook_deliveries.record(db, **seen, body_bytes=int(declared) if declared.isdigit() else 0,
                                        outcome=WebhookOutcome.TOO_LARGE, detail=f"body over {settings.webhook_max_body_bytes} bytes")
        raise ApiError(413, "webhook body too large", {"max_bytes": settings.webhook_max_body_bytes})
    seen.update(body_bytes=len(body), body_sha256=hashlib.sha256(body).hexdigest())
    signature = request.headers.get("x-hub-signature")
    if not jira_webhooks.signature_valid(body, signature, settings.jira_webhook_secrets):
        outcome = WebhookOutcome.FORGED if signature else WebhookOutcome.UNSIGNED
        why = "signature does not match any configured secret" if signature else "no X-Hub-Signature header"
        delivery = await webhook_deliveries.record(db, **seen, signature_valid=False, outcome=outcome, detail=why)
        await audit(db, f"address:{seen['client_address']}", "webhook.refused", "webhook:jira",
                    {"delivery": delivery, "outcome": outcome.value, "why": why})
        raise ApiError(401, f"webhook refused: {why}", {"delivery": delivery})
    text = body.decode("utf-8", errors="replace")
    if seen["identifier"] is None:
        delivery = await webhook_deliveries.record(db, **seen, body=text, signature_valid=True, outcome=WebhookOutcome.MALFORMED,
                                                   detail="no X-Atlassian-Webhook-Identifier: it could not be deduplicated")
        raise ApiError(400, "webhook refused: no X-Atlassian-Webhook-Identifier header", {"delivery": delivery})
    delivery = await webhook_deliveries.claim(db, **seen, body=text, signature_valid=True, outcome=WebhookOutcome.DEAD_LETTER,
                                              detail="received; not signalled yet")
    if delivery is None:
        return await _duplicate(client, db, settings, seen, text)
    outcome, detail = await jira_webhooks.drive(client, db, settings, delivery)
    return _answer(delivery, outcome, detail)


async def _duplicate(client: Client, db: Database, settings: Settings, seen: dict, text: str) -> WebhookAck:
    """Record a repeat of a delivery already taken; re-drive the first when it is still a dead letter."""
    first = await webhook_deliveries.taken(db, seen["source"], seen["identifier"])
    detail = f"repeats delivery {first.id} ({first.outcome})"
    if first.outcome == WebhookOutcome.DEAD_LETTER:
        outcome, why = await jira_webhooks.drive(client, db, settings, first.id)
        detail += f"; re-driven: {outcome or 'not now'} ({why})"
    delivery = await webhook_deliveries.record(db, **seen, body=text, signature_valid=True, outcome=WebhookOutcome.DUPLICATE,
                                               detail=detail)
    if first.outcome == WebhookOutcome.DEAD_LETTER and outcome == WebhookOutcome.DEAD_LETTER:
        raise ApiError(503, f"webhook kept as a dead letter: {why}", {"delivery": first.id}, headers={"Retry-After": "60"})
    return WebhookAck(delivery=delivery, outcome=WebhookOutcome.DUPLICATE, detail=detail)


def _answer(delivery: int, outcome: WebhookOutcome | None, detail: str) -> WebhookAck:
    if outcome == WebhookOutcome.MALFORMED:
        raise ApiError(400, f"webhook refused: {detail}", {"delivery": delivery})
    if outcome == WebhookOutcome.DEAD_LETTER:
        raise ApiError(503, f"webhook kept as a dead letter: {detail}", {"delivery": delivery}, headers={"Retry-After": "60"})
    return WebhookAck(delivery=delivery, outcome=outcome or WebhookOutcome.DUPLICATE, detail=detail)

