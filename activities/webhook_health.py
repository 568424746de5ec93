"""Webhook failures: the Jira webhook deliveries kept as dead letters and what became of deliveries
lately, and re-driving the dead letters through :func:`shipway.jira_webhooks.replay` (the code the
gateway, ``shipway webhooks replay`` and the console use). Reads ``webhook_deliveries``; the replay
settles them through :mod:`activities.webhook_deliveries`, their only writer.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import text
from sqlmodel import Session
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from shipway import jira_webhooks
from shipway.db.engine import Database
from shipway.settings import Settings, get_settings
from workflows.diagnostics_types import (
    REPLAY_DEAD_LETTERS,
    WEBHOOK_FAILURES,
    ReplayDeadLetters,
    ReplayedDeadLetters,
    ReplayedDelivery,
    WebhookFailuresCheck,
    WebhookFailuresReport,
)
from workflows.statuses import WebhookOutcome

MAX_IDS = 500  # dead-letter ids listed (a replay takes them all when given none)
DETAIL_CHARS = 200

_DEAD_LETTERS = text(f"""
SELECT id, received_at, left(detail, {DETAIL_CHARS}) AS detail FROM webhook_deliveries
WHERE outcome = 'dead_letter' ORDER BY id
""")
_OUTCOMES = text("""
SELECT outcome, count(*) AS n FROM webhook_deliveries
WHERE received_at >= now() - make_interval(secs => :since_s) GROUP BY outcome
""")


def webhook_failures(s: Session, since_s: float) -> WebhookFailuresReport:
    """The dead letters now and the outcomes of deliveries received in the last ``since_s`` seconds."""
    dead = s.exec(_DEAD_LETTERS).all()
    by_detail = Counter(d.detail or "(no detail)" for d in dead)
    outcomes = {r.outcome: r.n for r in s.exec(_OUTCOMES, params={"since_s": since_s})}
    oldest: datetime | None = min((d.received_at for d in dead), default=None)
    return WebhookFailuresReport(
        dead_letters=len(dead), dead_letter_ids=[d.id for d in dead[:MAX_IDS]], by_detail=dict(by_detail),
        oldest_at=oldest.isoformat() if oldest else None, outcomes_since=outcomes,
        forged_or_unsigned=outcomes.get(WebhookOutcome.FORGED, 0) + outcomes.get(WebhookOutcome.UNSIGNED, 0))


class WebhookHealthActivities:
    """Dead-letter diagnostics and replay.

    Args:
        db: the catalog database.
        client: the Temporal client a replay signals workflows with.
        settings: Jira's status decisions and account mapping, read by the replay (default: the process's).
    """

    def __init__(self, db: Database, client: Client, settings: Settings | None = None) -> None:
        self.db, self.client, self.settings = db, client, settings or get_settings()

    @activity.defn(name=WEBHOOK_FAILURES)
    async def webhook_failures(self, inp: WebhookFailuresCheck) -> WebhookFailuresReport:
        """Dead letters (count, ids oldest first, counts by detail, when the oldest arrived) and, over
        the last ``inp.since_s`` seconds, deliveries by outcome and the forged or unsigned ones."""
        return await self.db.read(webhook_failures, inp.since_s)

    @activity.defn(name=REPLAY_DEAD_LETTERS)
    async def replay_dead_letters(self, inp: ReplayDeadLetters) -> ReplayedDeadLetters:
        """Re-drive ``inp.delivery_ids`` (None: every dead letter) as ``inp.actor``: each becomes
        ``signalled``, ``ignored``, ``malformed`` or stays a ``dead_letter``; one that is no longer a
        dead letter is left alone (never signalled twice). Each replay is a ``webhook.replayed``
        audit event. An empty list replays nothing.

        Raises:
            ApplicationError (non-retryable): ``UnknownDelivery``, an id that does not exist.
        """
        if inp.delivery_ids == []:
            return ReplayedDeadLetters()
        try:
            results = await jira_webhooks.replay(self.client, self.db, self.settings, inp.actor, inp.delivery_ids)
        except LookupError as exc:
            raise ApplicationError(str(exc), type="UnknownDelivery", non_retryable=True) from exc
        return ReplayedDeadLetters(results=[ReplayedDelivery(id=i, outcome=str(o), detail=d) for i, o, d in results])
