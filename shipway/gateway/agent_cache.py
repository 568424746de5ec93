"""Agent definitions of the versions the gateway serves, looked up once per version (LRU-bounded)."""

from __future__ import annotations

import asyncio

from cachetools import LRUCache

from reference_agents.base import AgentDefinition
from reference_agents.registry import UnknownTemplateError, get_agent
from shipway import queries
from shipway.db.engine import Database

# Versions whose definitions a gateway keeps; a version's spec never changes once validated.
MAX_VERSIONS = 256


class UnknownVersion(LookupError):
    """The version is not in the catalog, or its template cannot be loaded here."""


class AgentCache:
    """``(agent, version) -> AgentDefinition``, at most :data:`MAX_VERSIONS` kept."""

    def __init__(self, db: Database, size: int = MAX_VERSIONS) -> None:
        self.db = db
        self._cache: LRUCache = LRUCache(maxsize=size)
        self._lock = asyncio.Lock()

    async def definition(self, name: str, version: int) -> AgentDefinition:
        """The definition of one version.

        Raises:
            UnknownVersion: no such version in the catalog, or its template does not load.
        """
        key = (name, version)
        if (hit := self._cache.get(key)) is not None:
            return hit
        row = await self.db.read(queries.agent_version, name, version)
        if row is None:
            raise UnknownVersion(f"agent {name} v{version} is not in the catalog")
        try:
            agent = get_agent(row.spec["template"])
        except UnknownTemplateError as exc:
            raise UnknownVersion(f"agent {name} v{version}: {exc}") from exc
        async with self._lock:
            self._cache[key] = agent
        return agent
