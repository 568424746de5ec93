"""Agent versions' graphs in the gateway, to read threads' state from their checkpoints.

A version's graph is loaded exactly as the worker loads it (:class:`activities.artifact_loader.ArtifactCache`:
from its artifact only, verified by SHA-256, imported in isolation; a factory is called with the
version's model), compiled once per ``(agent, version)`` and kept in an LRU. Nothing of it runs
here: the gateway only calls ``aget_state`` / ``aget_state_history`` and ``get_graph``.

Checkpoints are read with :class:`shipway.checkpoint_crypto.EncryptedAsyncPostgresSaver` (the same
keys as the workers) on a pool of connections acting as the gateway's database role, so row-level
security shows a transaction only its tenant's threads. A pooled connection serves one tenant at a
time: :meth:`GraphStates.reader` sets ``shipway.tenant`` for the session when it checks one out, and
the pool's ``reset`` clears it when it comes back, so an idle connection sees no tenant's rows.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from cachetools import LRUCache
from langgraph.types import StateSnapshot
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from pydantic import TypeAdapter, create_model

from activities.artifact_loader import ArtifactCache, LoadedArtifact
from activities.artifact_store import store_from_settings
from shipway import queries
from shipway.checkpoint_crypto import EncryptedAsyncPostgresSaver, encrypted_serde
from shipway.db.engine import Database, role_options
from shipway.langgraph_api.thread_views import jsonable
from shipway.settings import Settings

MAX_GRAPHS = 64  # compiled graphs a gateway keeps (a canary and its stable version of many agents)
POOL_SIZE = 10   # connections for checkpoint reads


class UnknownGraph(LookupError):
    """The agent version is not in the catalog (as the tenant sees it) or has no artifact."""


@dataclass(frozen=True)
class VersionGraph:
    """One agent version's compiled graph (no checkpointer bound: :meth:`GraphStates.reader` binds
    one per use) and its artifact's manifest (its input and output JSON Schemas)."""

    agent: str
    version: int
    graph: Any  # a compiled LangGraph graph (Pregel)
    manifest: Any  # activities.artifact_format.Manifest

    def bound(self, saver: EncryptedAsyncPostgresSaver) -> Any:
        """The graph reading its checkpoints through ``saver``."""
        return self.graph.copy(update={"checkpointer": saver})


async def _forget_tenant(conn: AsyncConnection) -> None:
    # '' matches no tenant: a connection back in the pool sees nothing until the next reader sets one
    await conn.execute("SELECT set_config('shipway.tenant', '', false)")


class GraphStates:
    """Compiled graphs of the versions the gateway was asked about and the pool their checkpoints
    are read through. Use ``async with GraphStates(...)`` (or :meth:`open` / :meth:`close`).

    Args:
        db: the gateway's database (catalog reads as the tenant; its ``url`` and ``role`` for the pool).
        settings: artifact store and cache folder, checkpoint keys, default model.
        pool_size: most connections held for checkpoint reads.
    """

    def __init__(self, db: Database, settings: Settings, pool_size: int = POOL_SIZE) -> None:
        self.db = db
        self.default_model = settings.llm
        self._serde = encrypted_serde(settings)
        store = store_from_settings(settings)
        self._artifacts = ArtifactCache(settings.resolved_artifact_cache_dir, store.get)
        self._pool = AsyncConnectionPool(db.url, min_size=1, max_size=pool_size, open=False, reset=_forget_tenant,
                                         kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row,
                                                 **role_options(db.role)})
        self._graphs: LRUCache = LRUCache(maxsize=MAX_GRAPHS)
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        """Open the connection pool (on the event loop that will use it)."""
        await self._pool.open()

    async def close(self) -> None:
        """Close the connection pool."""
        await self._pool.close()

    async def __aenter__(self) -> GraphStates:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def graph(self, agent: str, version: int, tenant: str) -> VersionGraph:
        """The compiled graph of ``agent`` v``version``, loaded from its artifact on first use.

        Raises:
            UnknownGraph: no such version visible to ``tenant``, or it has no artifact.
            activities.artifact_format.IntegrityError: the stored artifact does not match its SHA-256.
            activities.artifact_store.ArtifactNotFound: the artifact is not in the store.
        """
        # visibility first, on every call: the cache is shared by all tenants
        row = await self.db.read(queries.agent_version, agent, version, as_tenant=tenant)
        if row is None or not row.artifact_sha256:
            raise UnknownGraph(f"agent {agent} v{version} has no graph here")
        key = (agent, version)
        if (hit := self._graphs.get(key)) is not None:
            return hit
        async with self._lock:
            if key not in self._graphs:
                loaded = await asyncio.to_thread(self._artifacts.load, row.artifact_sha256)
                self._graphs[key] = VersionGraph(agent, version, _compiled(loaded, row.spec.get("model") or self.default_model),
                                                 loaded.manifest)
            return self._graphs[key]

    @asynccontextmanager
    async def reader(self, tenant: str) -> AsyncIterator[EncryptedAsyncPostgresSaver]:
        """A checkpointer on one pooled connection whose session acts for ``tenant`` (row-level
        security), held for the ``async with`` block."""
        async with self._pool.connection() as conn:
            await conn.execute("SELECT set_config('shipway.tenant', %s, false)", (tenant,))
            yield EncryptedAsyncPostgresSaver(conn, serde=self._serde)

    async def state(self, vg: VersionGraph, thread_id: str, tenant: str, checkpoint: dict | None = None,
                    subgraphs: bool = False) -> StateSnapshot:
        """The thread's state: at its latest checkpoint, or at ``checkpoint`` (``checkpoint_id``,
        ``checkpoint_ns``, ``checkpoint_map`` as the Platform's ``Checkpoint`` names them); with
        ``subgraphs``, the states of subgraphs in its tasks too. A thread without checkpoints gives a
        snapshot with empty values and no config."""
        async with self.reader(tenant) as saver:
            return await vg.bound(saver).aget_state(_config(thread_id, checkpoint), subgraphs=subgraphs)

    async def history(self, vg: VersionGraph, thread_id: str, tenant: str, limit: int = 10, before: dict | None = None,
                      metadata: dict | None = None, checkpoint: dict | None = None) -> list[StateSnapshot]:
        """Up to ``limit`` states of the thread, newest first: those before checkpoint ``before``
        (an id or a Checkpoint dict) when given, whose metadata contains ``metadata``, of the
        namespace ``checkpoint`` names (default: the root graph)."""
        before_config = _config(thread_id, before) if before else None
        async with self.reader(tenant) as saver:
            graph = vg.bound(saver)
            return [s async for s in graph.aget_state_history(_config(thread_id, checkpoint), filter=metadata or None,
                                                               before=before_config, limit=limit)]


def _compiled(loaded: LoadedArtifact, model: str | None) -> Any:
    """The artifact's graph compiled as the worker compiles it, without a checkpointer yet."""
    graph = loaded.graph({"configurable": {"model": model}})
    return graph if hasattr(graph, "astream") else graph.compile()


def _config(thread_id: str, checkpoint: dict | str | None) -> dict:
    """The RunnableConfig for ``thread_id`` at ``checkpoint`` (a Platform Checkpoint dict or an id)."""
    configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ""}
    if isinstance(checkpoint, str):
        configurable["checkpoint_id"] = checkpoint
    elif checkpoint:
        configurable.update({k: v for k, v in checkpoint.items()
                             if k in ("checkpoint_id", "checkpoint_ns", "checkpoint_map") and v is not None})
    return {"configurable": configurable}


@asynccontextmanager
async def graph_states_lifespan(app: Any) -> AsyncIterator[None]:
    """A router lifespan (``APIRouter(lifespan=...)``): opens one :class:`GraphStates` as
    ``app.state.graph_states`` after the app's own lifespan made ``app.state.db`` and
    ``app.state.settings``, and closes it at shutdown. Routers that share it each declare it; the
    first one opens and owns it."""
    if getattr(app.state, "graph_states", None) is not None:
        yield
        return
    async with GraphStates(app.state.db, app.state.settings) as states:
        app.state.graph_states = states
        try:
            yield
        finally:
            app.state.graph_states = None


def drawing(vg: VersionGraph, xray: int | bool = False) -> dict[str, Any]:
    """The graph's nodes and edges as LangGraph's ``get_graph(xray=...).to_json()`` gives them
    (``{"nodes": [{"id", "type", "data", ...}], "edges": [{"source", "target", ...}]}``); ``xray``
    draws subgraphs too (an int: down to that depth)."""
    return jsonable(vg.graph.get_graph(xray=xray).to_json())


def _schema_or_none(make: Any) -> dict | None:
    # the Platform answers None for a schema it cannot generate; a graph's own types decide that
    try:
        with warnings.catch_warnings():
            # config_schema is deprecated in LangGraph 1.x but still a field of the Platform's GraphSchema
            warnings.simplefilter("ignore", DeprecationWarning)
            return make()
    except Exception:
        return None


def _channel_type(channel: Any) -> Any:
    typ = getattr(channel, "ValueType", Any)
    try:
        TypeAdapter(typ).json_schema()
        return typ
    except Exception:  # e.g. a typing.TypedDict on Python < 3.12, which pydantic refuses
        return Any


def state_schema(graph: Any) -> dict:
    """JSON Schema of the graph's state: one optional property per state channel, typed by the
    channel's value type where pydantic can describe it, else any value. Built from the channels
    rather than the state class, so a state pydantic cannot describe whole still has its keys."""
    fields = {key: (_channel_type(graph.channels[key]) | None, None) for key in graph.stream_channels_list}
    return create_model(graph.get_name("State"), **fields).model_json_schema()


def schemas(vg: VersionGraph) -> dict[str, Any]:
    """The Platform's ``GraphSchema``: ``graph_id`` and the JSON Schemas of the graph's input (the
    artifact's run input schema, which Shipway validates against, else the graph's), output (the
    artifact's, else the graph's), state (:func:`state_schema`), config and context; each None when
    it cannot be generated."""
    graph, m = vg.graph, vg.manifest
    return {
        "graph_id": vg.agent,
        "input_schema": m.input_schema or _schema_or_none(graph.get_input_jsonschema),
        "output_schema": m.output_schema or _schema_or_none(graph.get_output_jsonschema),
        "state_schema": _schema_or_none(lambda: state_schema(graph)),
        "config_schema": _schema_or_none(graph.get_config_jsonschema),
        "context_schema": _schema_or_none(graph.get_context_jsonschema),
    }
