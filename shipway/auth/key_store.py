"""The one writer of ``api_keys``: create and revoke keys, each with its audit event in the same
transaction, and the local admin key ``shipway up`` keeps for the demo.

Functions take a synchronous SQLModel ``Session`` (the CLI's, or ``AsyncSession.run_sync``); the
caller commits.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from sqlmodel import Session

from activities.audit_log import append_event_sync
from shipway import queries
from shipway.auth import keys
from shipway.auth.roles import Role
from shipway.db.models import ApiKey, utcnow
from workflows.types import AuditRecord

LOCAL_ADMIN_NAME = "local admin (shipway up)"


class UnknownKeyError(LookupError):
    """No key has this prefix or id."""


def create_key(s: Session, tenant: str, role: Role | str, name: str = "", created_by: str = "") -> tuple[ApiKey, str]:
    """Make a key of ``tenant`` with ``role``; records ``key.created``.

    Returns:
        ``(row, token)``; the token is shown once and never stored.

    Raises:
        ValueError: unknown role, or an empty or over-long tenant.
    """
    role = Role(role)
    tenant = tenant.strip()
    if not tenant or len(tenant) > 100:
        raise ValueError("tenant must be 1-100 characters")
    made = keys.new_key()
    row = ApiKey(id=str(uuid.uuid4()), prefix=made.prefix, salt=made.salt, hash=made.hash, tenant=tenant, role=role.value,
                 name=name, created_by=created_by)
    s.add(row)
    append_event_sync(s, AuditRecord(actor=created_by or "cli", action="key.created", subject=f"key:{made.prefix}",
                                     detail={"tenant": tenant, "role": role.value, "name": name}))
    return row, made.token


def revoke_key(s: Session, prefix_or_id: str, actor: str, reason: str = "") -> ApiKey:
    """Revoke a key at once (its next request gets 401); records ``key.revoked``. Revoking a revoked
    key changes nothing and records nothing.

    Raises:
        UnknownKeyError: no key has this prefix or id.
    """
    row = queries.api_key_by_prefix(s, prefix_or_id) or s.get(ApiKey, prefix_or_id)
    if row is None:
        raise UnknownKeyError(f"no key {prefix_or_id!r}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        s.add(row)
        append_event_sync(s, AuditRecord(actor=actor, action="key.revoked", subject=f"key:{row.prefix}",
                                         detail={"tenant": row.tenant, "role": row.role, "reason": reason}))
    return row


def authenticate(s: Session, token: str) -> tuple[ApiKey | None, str]:
    """The live key ``token`` names, or ``(None, why)``: ``malformed``, ``unknown``, ``revoked``
    (timing-safe comparison of the salted hash)."""
    parsed = keys.parse(token)
    if parsed is None:
        return None, "malformed"
    row = queries.api_key_by_prefix(s, parsed[0])
    if row is None or not keys.matches(parsed[1], row.salt, row.hash):
        return None, "unknown"
    if row.revoked_at is not None:
        return None, "revoked"
    return row, ""


def ensure_local_admin_key(s: Session, path: Path) -> bool:
    """Keep a working admin key of tenant ``default`` in ``path`` (mode 0600): reuse the one there
    if it still authenticates, else create one. Returns True when a key was created (caller commits)."""
    if path.exists():
        row, _ = authenticate(s, path.read_text())
        if row is not None and row.role == Role.ADMIN:
            return False
    _, token = create_key(s, "default", Role.ADMIN, LOCAL_ADMIN_NAME, created_by="shipway up")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return True
