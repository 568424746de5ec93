"""``shipway keys create|list|revoke``: the gateway's API keys (an admin's job; the CLI writes to
the catalog database directly, so it also works when no key exists yet)."""

from __future__ import annotations

import typer

from shipway.auth.roles import Role
from shipway.cli.common import exit_now
from shipway.settings import get_settings

keys_app = typer.Typer(help="API keys of the gateway: create (shown once), list, revoke.", no_args_is_help=True)


@keys_app.command("create")
def create(tenant: str = typer.Option(..., help="Tenant the key acts for."),
           role: Role = typer.Option(..., help="admin | operator | approver | viewer | caller."),
           name: str = typer.Option("", help="A label: who or what uses the key."),
           as_user: str = typer.Option(None, "--as", help="Who creates it (audited; default: SHIPWAY_OPERATOR).")) -> None:
    """Create a key and print it once: only a salted hash is stored, it cannot be shown again."""
    from sqlmodel import Session

    from shipway.auth.key_store import create_key
    from shipway.db.engine import sync_engine

    try:
        with Session(sync_engine(), expire_on_commit=False) as s:
            row, token = create_key(s, tenant, role, name, created_by=as_user or get_settings().operator)
            s.commit()
    except ValueError as exc:
        typer.echo(f"cannot create key: {exc}", err=True)
        exit_now(2)
    typer.echo(token)
    typer.echo(f"key {row.prefix}: tenant {row.tenant}, role {row.role}. Store it now: it is not shown again.", err=True)
    exit_now(0)


@keys_app.command("list")
def list_keys(tenant: str = typer.Option(None, help="Only this tenant's keys."),
              revoked: bool = typer.Option(False, "--revoked", help="Include revoked keys.")) -> None:
    """List keys: prefix, tenant, role, name, created, revoked (never the secret)."""
    from sqlmodel import Session

    from shipway import queries
    from shipway.db.engine import sync_engine

    with Session(sync_engine()) as s:
        rows = queries.api_keys(s, tenant=tenant, include_revoked=revoked)
    typer.echo(f"{'PREFIX':<13} {'TENANT':<20} {'ROLE':<9} {'CREATED':<20} {'REVOKED':<20} NAME")
    for r in rows:
        revoked_at = r.revoked_at.strftime("%Y-%m-%d %H:%M:%S") if r.revoked_at else "-"
        typer.echo(f"{r.prefix:<13} {r.tenant:<20} {r.role:<9} {r.created_at:%Y-%m-%d %H:%M:%S}  {revoked_at:<20} {r.name}")
    exit_now(0)


@keys_app.command("revoke")
def revoke(key: str = typer.Argument(..., help="The key's prefix (from `shipway keys list`) or id."),
           reason: str = typer.Option("", help="Why (audited)."),
           as_user: str = typer.Option(None, "--as", help="Who revokes it (audited; default: SHIPWAY_OPERATOR).")) -> None:
    """Revoke a key: its next request gets 401."""
    from sqlmodel import Session

    from shipway.auth.key_store import UnknownKeyError, revoke_key
    from shipway.db.engine import sync_engine

    try:
        with Session(sync_engine(), expire_on_commit=False) as s:
            row = revoke_key(s, key, as_user or get_settings().operator, reason)
            s.commit()
    except UnknownKeyError as exc:
        typer.echo(str(exc), err=True)
        exit_now(1)
    typer.echo(f"key {row.prefix} revoked at {row.revoked_at:%Y-%m-%d %H:%M:%S} UTC")
    exit_now(0)


def register(app: typer.Typer) -> None:
    """Add ``shipway keys ...``."""
    app.add_typer(keys_app, name="keys")
