"""Who is calling: every route but ``/healthz`` takes ``Authorization: Bearer <key>`` or, as the
LangGraph Platform's clients send it, ``x-api-key: <key>`` (the same keys and roles).

``require(action, ...)`` is the dependency a route declares. In order, it: limits the client
address; authenticates the key (401: missing, malformed, unknown or revoked); limits the key
(429 with ``Retry-After``); checks that the key's role allows one of the ``actions`` (403).
Every refusal is an audit event (``auth.failed``, ``auth.refused``, ``ratelimit.hit``) with the
actor, the route as subject and the reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from activities.audit_log import append_event
from shipway.auth import key_store
from shipway.auth.keys import Principal
from shipway.auth.roles import Action, Role, allows
from shipway.db.engine import Database
from shipway.gateway.deps import get_db
from shipway.gateway.errors import ApiError
from workflows.types import AuditRecord

bearer = HTTPBearer(auto_error=False, description="An API key from `shipway keys create`.")
x_api_key = APIKeyHeader(name="x-api-key", auto_error=False,
                         description="The same API key, as `langgraph-sdk` and LangGraph Studio send it.")


def client_address(request: Request) -> str:
    """The peer address of the request (``unknown`` when the server does not say)."""
    return request.client.host if request.client else "unknown"


def _subject(request: Request) -> str:
    return f"route:{request.method} {request.url.path}"


async def audit(db: Database, actor: str, action: str, subject: str, detail: dict) -> None:
    """Append one security event to the audit log (its own short transaction)."""
    async with db.session() as s:
        await append_event(s, AuditRecord(actor=actor, action=action, subject=subject, detail=detail))
        await s.commit()


async def _limit(request: Request, db: Database, scope: str, check: Callable[[], Awaitable], actor: str) -> None:
    limiter = getattr(request.app.state, "limiter", None)
    if limiter is None:
        return
    refusal = await check()
    if refusal is None:
        return
    if refusal.first_in_window:  # one event per window, so a flood cannot flood the audit log
        await audit(db, actor, "ratelimit.hit", _subject(request), {"scope": scope, "limit": refusal.limit})
    raise ApiError(429, f"rate limit reached ({refusal.limit} per {scope})", {"retry_after_s": refusal.retry_after_s},
                   headers={"Retry-After": str(refusal.retry_after_s)})


async def authenticated(request: Request, db: Annotated[Database, Depends(get_db)],
                        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
                        api_key: Annotated[str | None, Depends(x_api_key)] = None) -> Principal:
    """The :class:`Principal` of the request's key (cached per request): ``Authorization: Bearer``
    when sent, else ``x-api-key``.

    Raises:
        ApiError: 429 (address or key over its rate limit), 401 (no key; malformed, unknown or revoked).
    """
    address = client_address(request)
    limiter = getattr(request.app.state, "limiter", None)
    await _limit(request, db, "address", lambda: limiter.hit_address(address), f"address:{address}")
    token = credentials.credentials if credentials is not None else api_key
    if not token:
        await audit(db, f"address:{address}", "auth.failed", _subject(request), {"reason": "missing"})
        raise ApiError(401, "missing API key: send Authorization: Bearer <key> or x-api-key: <key>",
                       headers={"WWW-Authenticate": "Bearer"})
    row, why = await db.read(key_store.authenticate, token)
    if row is None:
        await audit(db, f"address:{address}", "auth.failed", _subject(request), {"reason": why})
        raise ApiError(401, f"API key {why}", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    principal = Principal(key_id=row.id, prefix=row.prefix, tenant=row.tenant, role=Role(row.role), name=row.name)
    await _limit(request, db, "key", lambda: limiter.hit_key(principal), principal.actor)
    request.state.principal = principal
    return principal


async def limit_address(request: Request, db: Database) -> None:
    """Apply the per-address rate limit alone (routes that authenticate otherwise, e.g. signed webhooks).

    Raises:
        ApiError: 429 with ``Retry-After``.
    """
    address = client_address(request)
    limiter = getattr(request.app.state, "limiter", None)
    await _limit(request, db, "address", lambda: limiter.hit_address(address), f"address:{address}")


def require(*actions: Action) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the request's principal, once its role allows at least one of ``actions``.

    Raises:
        ApiError: 403 naming the role and the action, besides :func:`authenticated`'s errors.
    """
    async def dependency(request: Request, principal: Annotated[Principal, Depends(authenticated)],
                         db: Annotated[Database, Depends(get_db)]) -> Principal:
        if not any(allows(principal.role, a) for a in actions):
            wanted = " or ".join(actions)
            await audit(db, principal.actor, "auth.refused", _subject(request), {"role": principal.role.value, "action": wanted})
            raise ApiError(403, f"role {principal.role.value!r} may not {wanted}")
        return principal

    return dependency


async def refuse_tenant(request: Request, db: Database, principal: Principal, tenant: str) -> None:
    """403 (audited) for a request naming a tenant other than its key's."""
    await audit(db, principal.actor, "auth.refused", _subject(request),
                {"role": principal.role.value, "reason": f"tenant {tenant!r} is not the key's ({principal.tenant!r})"})
    raise ApiError(403, f"this key acts for tenant {principal.tenant!r}, not {tenant!r}")


_read_metrics = require(Action.METRICS_READ)


async def metrics_access(request: Request, db: Annotated[Database, Depends(get_db)],
                         credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
                         api_key: Annotated[str | None, Depends(x_api_key)] = None) -> Principal | None:
    """``/metrics``: None when ``metrics_require_key`` is off, else the principal of a key whose role
    may read metrics (the errors of :func:`require`)."""
    if not request.app.state.settings.metrics_require_key:
        return None
    return await _read_metrics(request, await authenticated(request, db, credentials, api_key), db)
