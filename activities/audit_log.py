"""Append-only, hash-chained audit log.

Each event's ``hash`` is SHA-256 over the previous event's hash and the canonical JSON
(sorted keys, no whitespace) of ``[ts, actor, action, subject, detail]``; the first
event chains from 64 zeros. Appends are serialised with a transaction-level advisory
lock so the chain has no forks under concurrent writers.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import text
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from shipway.db.engine import async_engine
from shipway.db.models import AuditEvent, utcnow
from workflows.types import AuditRecord

GENESIS_HASH = "0" * 64
_LOCK_KEY = 0x5A1D17  # advisory lock id reserved for the audit chain


def event_hash(prev_hash: str, ts_iso: str, actor: str, action: str, subject: str, detail: dict) -> str:
    """SHA-256 hex digest chaining one event to ``prev_hash``."""
    body = json.dumps([ts_iso, actor, action, subject, detail], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


async def append_event(session: AsyncSession, actor: str, action: str, subject: str, detail: dict | None = None) -> AuditEvent:
    """Append one event inside the caller's transaction (the caller commits)."""
    await session.exec(text("SELECT pg_advisory_xact_lock(:k)").bindparams(k=_LOCK_KEY))
    last = (await session.exec(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))).first()
    prev = last.hash if last else GENESIS_HASH
    ts = utcnow()
    detail = json.loads(json.dumps(detail or {}, default=str))
    ev = AuditEvent(ts=ts, actor=actor, action=action, subject=subject, detail=detail, prev_hash=prev,
                    hash=event_hash(prev, ts.isoformat(), actor, action, subject, detail))
    session.add(ev)
    return ev


async def verify_chain(session: AsyncSession) -> tuple[bool, int | None]:
    """Recompute the chain. Returns ``(True, None)`` or ``(False, id of the first bad event)``."""
    prev = GENESIS_HASH
    for ev in (await session.exec(select(AuditEvent).order_by(AuditEvent.id))).all():
        if ev.prev_hash != prev or ev.hash != event_hash(prev, ev.ts.isoformat(), ev.actor, ev.action, ev.subject, ev.detail):
            return False, ev.id
        prev = ev.hash
    return True, None


@activity.defn(name="record_audit")
async def record_audit(rec: AuditRecord) -> str:
    """Activity: append ``rec`` to the audit log; returns the event's hash."""
    async with AsyncSession(async_engine(), expire_on_commit=False) as session:
        ev = await append_event(session, rec.actor, rec.action, rec.subject, rec.detail)
        await session.commit()
        return ev.hash
