"""What the gateway knows of the versions it serves: each one's run input JSON Schema, read from its
artifact manifest once (LRU-bounded), and its per-run budget and agent config from its spec. The gateway never
imports agent code: validating input against the schema is enough to answer 422 naming the field;
the worker validates again with the artifact's own model before running it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from cachetools import LRUCache
from jsonschema import Draft202012Validator

from shipway import queries
from shipway.durability import PER_NODE, spec_durability
from shipway.db.engine import Database

# Versions a gateway keeps; a version's manifest and spec never change once built.
MAX_VERSIONS = 256


class UnknownVersion(LookupError):
    """The version is not in the catalog."""


@dataclass(frozen=True)
class ServedVersion:
    """A version's input schema (``None`` for a version built before artifacts carried one), its
    per-run budget (the spec's ``max_cost_usd``, US dollars; None: none), its checkpoint
    durability (:func:`shipway.durability.spec_durability`) and the spec's ``config`` (the agent's
    own settings, e.g. a mapping agent's ``repository_roots``)."""

    input_schema: dict | None
    validator: Draft202012Validator | None
    max_cost_usd: float | None = None
    durability: str = PER_NODE
    config: dict = field(default_factory=dict)

    def input_errors(self, value: dict) -> list[dict]:
        """Where ``value`` breaks the input schema, each as ``{"loc": ["body", "input", ...], "msg"}``;
        a missing required property is located at its own name."""
        if self.validator is None:
            return []
        errors = []
        for e in sorted(self.validator.iter_errors(value), key=lambda e: list(e.absolute_path)):
            loc = ["body", "input", *e.absolute_path]
            if e.validator == "required" and isinstance(e.instance, dict):
                errors += [{"loc": [*loc, p], "msg": "Field required"} for p in e.validator_value if p not in e.instance]
            else:
                errors.append({"loc": loc, "msg": e.message})
        return errors


class VersionCache:
    """``(agent, version) -> ServedVersion``, at most :data:`MAX_VERSIONS` kept."""

    def __init__(self, db: Database, size: int = MAX_VERSIONS, default_model: str | None = None) -> None:
        self.db = db
        self.default_model = default_model  # SHIPWAY_LLM: a version without a model of its own runs with it
        self._cache: LRUCache = LRUCache(maxsize=size)
        self._lock = asyncio.Lock()

    async def get(self, name: str, version: int, tenant: str | None = None) -> ServedVersion:
        """The served view of one version, read as ``tenant`` (row-level security) when not cached.
        Callers first check that the agent is visible to the tenant (its traffic or its row): the
        cache holds input schemas and budgets, which are the same for every tenant.

        Raises:
            UnknownVersion: no such version in the catalog.
        """
        key = (name, version)
        if (hit := self._cache.get(key)) is not None:
            return hit
        row = await self.db.read(queries.agent_version, name, version, as_tenant=tenant)
        if row is None:
            raise UnknownVersion(f"agent {name} v{version} is not in the catalog")
        schema = (row.manifest or {}).get("input_schema") or None
        spec = row.spec or {}
        served = ServedVersion(schema, Draft202012Validator(schema) if schema else None, spec.get("max_cost_usd"),
                               spec_durability(spec, self.default_model), spec.get("config") or {})
        async with self._lock:
            self._cache[key] = served
        return served
