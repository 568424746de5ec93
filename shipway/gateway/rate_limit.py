"""Gateway rate limits, per client address and per API key, shared by every gateway process.

Each request counts once against its client address (``SHIPWAY_RATE_LIMIT_PER_ADDRESS``, keyed or
not) and, once its key is known, once against the key (``SHIPWAY_RATE_LIMITS``, a limit per role;
a role missing from it is not limited). Limits use the notation of the `limits` library
(``100/second``, ``1000/minute``, ``10 per 5 seconds``). Over a limit, the auth dependency
answers 429 with ``Retry-After`` (:mod:`shipway.gateway.auth`).

Strategy: fixed window (:class:`limits.aio.strategies.FixedWindowRateLimiter`). A window starts at
a key's first hit and lasts the limit's period; one counter per key and window. It is the
strategy a shared database serves well: one row and one atomic upsert per hit, where a moving
window would keep a row per request and a sliding window two counters per key. Its known cost —
up to twice the limit across a window boundary — is acceptable for protecting the gateway.

Storage (``SHIPWAY_RATE_LIMIT_STORAGE``): ``postgres`` keeps counters in the catalog database
(:class:`~shipway.gateway.rate_limit_storage.PostgresStorage`); any other value is a `limits`
storage URI (``redis://host:6379``, ``memcached://host:11211``; ``memory://`` is per process,
for tests only).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import storage_from_string

from shipway.auth.keys import Principal
from shipway.gateway.rate_limit_storage import PostgresStorage
from shipway.settings import Settings


@dataclass(frozen=True)
class Refusal:
    """A request over its limit.

    Attributes:
        limit: the limit as configured, in the `limits` notation (e.g. ``100/second``).
        retry_after_s: whole seconds until the window resets (rounded up, at least 1).
        first_in_window: True only for the first refused request of that key in that window (the
            caller audits only then, so a flood cannot flood the audit log).
    """

    limit: str
    retry_after_s: int
    first_in_window: bool


@dataclass(frozen=True)
class _Limit:
    text: str
    item: RateLimitItem


def _limit(text: str) -> _Limit:
    return _Limit(text.strip(), parse(text))


class RateLimiter:
    """Counts requests per client address and per key on a shared `limits` storage.

    Args:
        storage: an async `limits` storage every gateway process reaches (PostgreSQL, Redis, ...).
        per_role: role -> limit (``{"viewer": "100/second"}``); roles not named are not limited.
        per_address: limit per client address.

    Raises:
        ValueError: a limit is not in the `limits` notation.
    """

    def __init__(self, storage: Storage, per_role: dict[str, str], per_address: str) -> None:
        self.storage = storage
        self._strategy = FixedWindowRateLimiter(storage)
        self._per_role = {role: _limit(text) for role, text in per_role.items()}
        self._per_address = _limit(per_address)

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        """The limiter the settings describe (``rate_limits``, ``rate_limit_per_address``,
        ``rate_limit_storage``). Nothing connects until the first hit.

        Raises:
            ValueError: a limit is not in the `limits` notation.
            limits.errors.ConfigurationError: an unknown storage URI scheme.
            RuntimeError: ``postgres`` storage and no database is configured.
        """
        if settings.rate_limit_storage == "postgres":
            storage: Storage = PostgresStorage(settings.resolved_database_url(), role=settings.gateway_db_role or None)
        else:
            # `limits` names its asyncio storages `async+<scheme>`; the strategy needs one of those
            uri = settings.rate_limit_storage
            storage = storage_from_string(uri if uri.startswith("async+") else f"async+{uri}")
        return cls(storage, settings.rate_limits, settings.rate_limit_per_address)

    async def hit_address(self, address: str) -> Refusal | None:
        """Count one request from client ``address``; a :class:`Refusal` when it is over the
        per-address limit, else None.

        Raises:
            psycopg.Error (or the configured storage's errors): the storage failed.
        """
        return await self._hit(self._per_address, f"addr:{address}")

    async def hit_key(self, principal: Principal) -> Refusal | None:
        """Count one request with ``principal``'s key; a :class:`Refusal` when it is over its
        role's limit, else None (always None for a role without a limit).

        Raises:
            psycopg.Error (or the configured storage's errors): the storage failed.
        """
        limit = self._per_role.get(principal.role.value)
        if limit is None:
            return None
        return await self._hit(limit, f"key:{principal.key_id}")

    async def _hit(self, limit: _Limit, identifier: str) -> Refusal | None:
        key = limit.item.key_for(identifier)
        # FixedWindowRateLimiter.hit is `storage.incr(...) <= amount`; calling incr ourselves keeps
        # the count, and only one request in a window can see amount + 1 (the first refused)
        count = await self.storage.incr(key, limit.item.get_expiry())
        if count <= limit.item.amount:
            return None
        reset_at = (await self._strategy.get_window_stats(limit.item, identifier)).reset_time
        return Refusal(limit=limit.text, retry_after_s=max(1, math.ceil(reset_at - time.time())),
                       first_in_window=count == limit.item.amount + 1)

    async def close(self) -> None:
        """Release the storage's connections (the PostgreSQL pool; `limits`' own storages hold
        clients that need no explicit close)."""
        if isinstance(self.storage, PostgresStorage):
            await self.storage.close()
