"""Append-only, hash-chained audit log (the only writer of ``audit_events``).

Each event's ``hash`` is SHA-256 over the previous event's hash and the canonical JSON
(sorted keys, no whitespace) of ``[ts, actor, action, subject, detail]``; the first
event chains from 64 zeros. Appends are serialised with a transaction-level advisory
lock so the chain has no forks under concurrent writers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator

from sqlalchemy import text
from sqlmodel import Session, col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from shipway import queries
from shipway.db.engine import Database
from shipway.db.models import AuditEvent, utcnow
from workflows.types import RECORD_AUDIT, VERIFY_AUDIT_CHAIN, AuditChainCheck, AuditChainReport, AuditRecord, AuditResult

GENESIS_HASH = "0" * 64
_LOCK_KEY = 0x5A1D17  # advisory lock id reserved for the audit chain


def event_hash(prev_hash: str, ts_iso: str, actor: str, action: str, subject: str, detail: dict) -> str:
    """SHA-256 hex digest chaining one event to ``prev_hash``."""
    body = json.dumps([ts_iso, actor, action, subject, detail], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


PAGE = 5000  # events read per query when walking the chain: it is never loaded whole


def chain_pages(read_page) -> Iterator[AuditEvent]:
    """Every audit event in chain order, ``read_page(after_id, limit)`` at a time."""
    after = 0
    while page := read_page(after, PAGE):
        yield from page
        after = page[-1].id


def verify_chain(events: Iterable[AuditEvent]) -> tuple[bool, int | None]:
    """Recompute the chain over ``events`` (all of them, in id order, e.g. ``queries.audit_events``).

    Returns:
        ``(True, None)``, or ``(False, id of the first event whose hash or link does not match)``.
    """
    prev = GENESIS_HASH
    for ev in events:
        if ev.prev_hash != prev or ev.hash != event_hash(prev, ev.ts.isoformat(), ev.actor, ev.action, ev.subject, ev.detail):
            return False, ev.id
        prev = ev.hash
    return True, None


def append_event_sync(session: Session, rec: AuditRecord) -> AuditEvent:
    """Append one event inside the caller's transaction (the caller commits); synchronous session
    (the CLI's key commands, or ``AsyncSession.run_sync``)."""
    session.exec(text("SELECT pg_advisory_xact_lock(:k)").bindparams(k=_LOCK_KEY))
    last = session.exec(select(AuditEvent).order_by(col(AuditEvent.id).desc()).limit(1)).first()
    prev = last.hash if last else GENESIS_HASH
    ts = utcnow()
    # JSON round trip: the stored detail must hash the same when read back
    detail = json.loads(json.dumps(rec.detail or {}, default=str))
    ev = AuditEvent(ts=ts, actor=rec.actor, action=rec.action, subject=rec.subject, detail=detail, prev_hash=prev,
                    hash=event_hash(prev, ts.isoformat(), rec.actor, rec.action, rec.subject, detail))
    session.add(ev)
    return ev


async def append_event(session: AsyncSession, rec: AuditRecord) -> AuditEvent:
    """Append one event inside the caller's transaction (the caller commits)."""
    return await session.run_sync(append_event_sync, rec)


class AuditActivities:
    """Activities on the audit log; owns nothing but a reference to the worker's database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @activity.defn(name=RECORD_AUDIT)
    async def record_audit(self, rec: AuditRecord) -> AuditResult:
        """Append ``rec`` to the audit log; returns the event's id and chain hash."""
        async with self.db.session() as session:
            ev = await append_event(session, rec)
            await session.commit()
            return AuditResult(event_id=ev.id, hash=ev.hash)

    @activity.defn(name=VERIFY_AUDIT_CHAIN)
    async def verify_audit_chain(self, inp: AuditChainCheck) -> AuditChainReport:
        """Walk the whole chain (``verify_chain``) and append the result to it: ``audit.verified``
        with the count and last hash, or ``audit.chain_broken`` naming the first broken event."""
        walked = {"events": 0, "last": None}

        def walk(s) -> tuple[bool, int | None]:
            def counted():
                for ev in chain_pages(lambda after, limit: queries.audit_events_after(s, after, limit)):
                    walked["events"] += 1
                    walked["last"] = ev.hash
                    yield ev
            return verify_chain(counted())

        intact, broken = await self.db.read(walk)
        action = "audit.verified" if intact else "audit.chain_broken"
        detail = {"events": walked["events"], "last_hash": walked["last"], "broken_event_id": broken}
        recorded = await self.record_audit(AuditRecord(inp.actor, action, "audit:chain", detail))
        return AuditChainReport(intact=intact, events=walked["events"] - (0 if intact else 1), last_hash=walked["last"],
                                broken_event_id=broken, recorded_event_id=recorded.event_id)
