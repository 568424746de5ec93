"""``shipway audit verify``: walk the audit log's hash chain and name the first broken event."""

from __future__ import annotations

from collections.abc import Iterator

import typer

from shipway.cli.common import exit_now

audit_app = typer.Typer(help="The audit log: verify its hash chain.", no_args_is_help=True)


@audit_app.command("verify")
def verify() -> None:
    """Recompute every event's hash from the one before it (from the genesis hash). Exit 0 with the
    count and the last hash when the chain is intact; exit 1 naming the first event whose content or
    link no longer matches (an edited, inserted or deleted row)."""
    from sqlmodel import Session

    from activities.audit_log import chain_pages, verify_chain
    from shipway import queries
    from shipway.db.engine import sync_engine
    from shipway.db.models import AuditEvent

    seen = {"count": 0, "last": None}

    def events(s: Session) -> Iterator[AuditEvent]:
        for ev in chain_pages(lambda after, limit: queries.audit_events_after(s, after, limit)):
            seen["count"] += 1
            seen["last"] = ev.hash
            yield ev

    with Session(sync_engine()) as s:
        ok, broken_id = verify_chain(events(s))
        broken = s.get(AuditEvent, broken_id) if broken_id is not None else None
    if ok:
        typer.echo(f"audit chain intact: {seen['count']:,} events, last hash {seen['last'] or '(none)'}")
        exit_now(0)
    typer.echo(f"audit chain broken at event {broken.id} ({broken.action} on {broken.subject} by {broken.actor}, "
               f"{broken.ts.isoformat()}): its hash or its link to the event before does not match; "
               f"{seen['count'] - 1:,} events before it verified", err=True)
    exit_now(1)


def register(app: typer.Typer) -> None:
    """Add ``shipway audit ...``."""
    app.add_typer(audit_app, name="audit")
