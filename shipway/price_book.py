"""The model price table (``model_prices``): the only writer of it. ``shipway migrate`` seeds list prices
from the price file; an admin adds a price with :func:`set_price` (``shipway prices set``), audited.

An admin's price is their own data, edited directly in the catalog database (as API keys are): no
workflow is involved. Ranges are whole days, inclusive; a model's ranges never overlap (checked here
with a clear message, and by the table's exclusion constraint under concurrent writers).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from activities.audit_log import append_event_sync
from shipway.db.models import ModelPrice, utcnow
from shipway.pricing import CURRENCY_RE, PRICING_CURRENCY, ListPrice
from workflows.types import AuditRecord


class PriceOverlap(ValueError):
    """The new price's dates overlap a price of the same model that cannot be closed before it."""


@dataclass(frozen=True)
class PriceChange:
    """What :func:`set_price` did: the new row, and the open price it closed (None if none)."""

    added: ModelPrice
    closed: ModelPrice | None


def seed_prices(s: Session, prices: Iterable[ListPrice], actor: str = "shipway migrate") -> int:
    """Insert each list price unless its model already has a price over any of the same days (an
    admin's row, or the same price seeded before); never changes a row. The caller commits.

    Returns:
        How many rows were added.
    """
    added = 0
    for p in prices:
        # no conflict target: DO NOTHING then also covers the exclusion constraint (overlapping dates)
        result = s.exec(insert(ModelPrice).values(
            model=p.model, effective_from=p.effective_from, effective_to=p.effective_to, input_usd_per_mtok=p.input_usd_per_mtok,
            output_usd_per_mtok=p.output_usd_per_mtok, currency=p.currency, source=p.source, source_date=p.source_date,
            updated_by=actor, updated_at=utcnow()).on_conflict_do_nothing().returning(ModelPrice.model))
        added += len(result.all())
    return added


def set_price(s: Session, model: str, input_per_mtok: float, output_per_mtok: float, effective_from: date, source: str,
              actor: str, currency: str = PRICING_CURRENCY, source_date: date | None = None) -> PriceChange:
    """Add ``model``'s price per million input / output tokens in ``currency`` from ``effective_from``
    on (open-ended), read from ``source`` on ``source_date`` (default: today, UTC). The model's open
    price starting earlier is closed the day before (flushed first: ranges may never overlap); the
    change is the audit event ``price.set`` by ``actor`` on ``price:<model>``. The caller commits.

    Raises:
        ValueError: an empty model or source, a negative price, a currency that is not three upper-case letters.
        PriceOverlap: a price of ``model`` starts on or after ``effective_from``, or a closed one covers it.
    """
    if not model.strip() or not source.strip():
        raise ValueError("a price needs a model and a source (where it was read)")
    if input_per_mtok < 0 or output_per_mtok < 0:
        raise ValueError("prices must be non-negative")
    if not CURRENCY_RE.match(currency):
        raise ValueError(f"currency {currency!r} is not an ISO 4217 code (three upper-case letters)")
    rows = s.exec(select(ModelPrice).where(ModelPrice.model == model).order_by(col(ModelPrice.effective_from))
                  .with_for_update()).all()
    closed = None
    for row in rows:
        if row.effective_from >= effective_from or (row.effective_to is not None and row.effective_to >= effective_from):
            raise PriceOverlap(f"{model} already has a price from {row.effective_from} to {row.effective_to or 'open'} "
                               f"({row.input_usd_per_mtok:g}/{row.output_usd_per_mtok:g} {row.currency}); a new price must "
                               f"start after {row.effective_to or row.effective_from}")
        if row.effective_to is None:
            row.effective_to, row.updated_by, row.updated_at = effective_from - timedelta(days=1), actor, utcnow()
            s.add(row)
            closed = row
    added = ModelPrice(model=model, effective_from=effective_from, input_usd_per_mtok=input_per_mtok,
                       output_usd_per_mtok=output_per_mtok, currency=currency, source=source,
                       source_date=source_date or utcnow().date(), updated_by=actor, updated_at=utcnow())
    try:
        s.flush()  # the closed range first: the new one must not overlap it even within the statement order
        s.add(added)
        s.flush()
    except IntegrityError as exc:  # another writer added an overlapping price meanwhile
        raise PriceOverlap(f"{model}: a price overlapping {effective_from} was added concurrently; list and retry") from exc
    detail = {"input_per_mtok": input_per_mtok, "output_per_mtok": output_per_mtok, "currency": currency,
              "effective_from": effective_from.isoformat(), "source": source, "source_date": added.source_date.isoformat(),
              "closed": {"effective_from": closed.effective_from.isoformat(), "effective_to": closed.effective_to.isoformat()}
              if closed else None}
    append_event_sync(s, AuditRecord(actor=actor, action="price.set", subject=f"price:{model}", detail=detail))
    return PriceChange(added, closed)
