"""Webhook deliveries (the only writer of ``webhook_deliveries``): every delivery the gateway
receives is recorded, whatever becomes of it, and a verified one is claimed by its identifier so a
retried delivery is taken once.

Called by the gateway's webhook route and by ``shipway webhooks replay`` (and the console's replay
button), each write in its own short transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlmodel import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shipway.db.engine import Database
from shipway.db.models import DELIVERY_TAKEN, WebhookDelivery, utcnow
from workflows.statuses import WebhookOutcome


async def record(db: Database, **fields) -> int:
    """Insert one delivery that was not claimed (refused before verification, or a duplicate);
    ``fields`` are :class:`WebhookDelivery` columns. Returns its id."""
    async with db.session() as s:
        row = WebhookDelivery(**fields)
        s.add(row)
        await s.commit()
        return row.id


async def claim(db: Database, **fields) -> int | None:
    """Insert a verified delivery as the one taken for its (``source``, ``identifier``); returns its
    id, or None when a delivery with that identifier was taken before (the caller records this one
    as a duplicate). Relies on the partial unique index ``uq_webhook_deliveries_identifier``, so two
    gateways receiving the same retry at once cannot both take it."""
    async with db.session() as s:
        stmt = (insert(WebhookDelivery).values(**WebhookDelivery(**fields).model_dump(exclude={"id"}))
                # the predicate as literal SQL: a bound 'duplicate' in a generic prepared plan (psycopg prepares
                # after 5 runs) no longer matches the partial index, and PostgreSQL refuses the ON CONFLICT
                .on_conflict_do_nothing(index_elements=["source", "identifier"], index_where=text(DELIVERY_TAKEN))
                .returning(WebhookDelivery.id))
        new_id = (await s.execute(stmt)).scalar_one_or_none()
        await s.commit()
        return new_id


async def taken(db: Database, source: str, identifier: str) -> WebhookDelivery | None:
    """The delivery taken for (``source``, ``identifier``), if any."""
    async with db.session() as s:
        return (await s.exec(select(WebhookDelivery).where(
            WebhookDelivery.source == source, WebhookDelivery.identifier == identifier, WebhookDelivery.signature_valid.is_(True),
            WebhookDelivery.outcome != WebhookOutcome.DUPLICATE))).first()


class Driver:
    """A dead letter being driven to its workflow, its row locked (``FOR UPDATE``) until the
    :func:`driving` block ends; :meth:`settle` sets what became of it."""

    def __init__(self, session: AsyncSession, row: WebhookDelivery) -> None:
        self.session, self.row = session, row

    def settle(self, outcome: WebhookOutcome, detail: str, attempted: bool = False, **fields) -> None:
        """Set the outcome, detail and ``fields`` (committed when the block ends); ``attempted``
        counts one more attempt to signal."""
        for name, value in dict(outcome=outcome, detail=detail[:2000], updated_at=utcnow(), **fields).items():
            setattr(self.row, name, value)
        if attempted:
            self.row.attempts += 1


@asynccontextmanager
async def driving(db: Database, delivery_id: int) -> AsyncIterator[Driver | None]:
    """Lock a dead letter for driving; yields None when it is not one (already settled) or another
    request is driving it right now (``SKIP LOCKED``), so two gateways never signal it twice."""
    async with db.session() as s:
        row = (await s.exec(select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
                               .with_for_update(skip_locked=True))).first()
        if row is None or row.outcome != WebhookOutcome.DEAD_LETTER:
            yield None
            return
        yield Driver(s, row)
        await s.commit()
