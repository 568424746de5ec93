"""API keys for tests: made and revoked through Shipway's own key store on the test database.

Async on purpose: a key is an audit event, appended under the audit chain's advisory lock, which an
in-process worker's activity may hold while it waits for the event loop; a synchronous call here
would block that loop and never get the lock.
"""

from __future__ import annotations

from shipway.auth.key_store import create_key, revoke_key
from shipway.db.engine import Database


async def make_key(tenant: str = "default", role: str = "admin", name: str = "test") -> str:
    """A new key of ``tenant`` with ``role`` on the configured database; returns the token."""
    async with Database.from_settings(pool_size=1) as db, db.session() as s:
        _, token = await s.run_sync(create_key, tenant, role, name, "tests")
        await s.commit()
    return token


async def revoke(token: str, actor: str = "tests", reason: str = "") -> None:
    """Revoke the key of ``token`` (by its prefix)."""
    async with Database.from_settings(pool_size=1) as db, db.session() as s:
        await s.run_sync(revoke_key, token.split("_")[1], actor, reason)
        await s.commit()


def bearer(token: str) -> dict[str, str]:
    """The ``Authorization`` header for ``token``."""
    return {"Authorization": f"Bearer {token}"}
