"""The LangGraph store the worker gives every graph it runs: ``AsyncPostgresStore`` in the catalog
database, with a pgvector index embedded by the local MiniLM model (384 dimensions, cosine) and
item expiry swept in the background.

A node receives it by declaring a ``store: BaseStore`` parameter (LangGraph injects it). By
default an item's ``text`` field is embedded (items without one get no vector); ``put(...,
index=[...])`` or ``index=False`` chooses per item. Items expire only when written with a ``ttl``
(minutes); expired items are never read, and reads do not extend them unless asked
(``refresh_ttl=True``).

Shared across tenants: the store's tables carry no tenant and no row-level security, and every
graph on every worker sees every namespace. What is kept there must therefore be safe to share.
The DAG -> code mapping agent's code index is (``reference_agents/dag_mapping/index_store.py``):
its namespace is keyed by the repository's content fingerprint (a SHA-256 over every file's path
and bytes) and the languages kept, paths inside are repository-relative, so two tenants share an
entry only when they indexed identical files, and what one reads from it is what its own files
hold. A graph that keeps a tenant's own data here must put the tenant in its namespace itself.
Values are stored as plain JSON (not encrypted like checkpoints).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from langchain_core.embeddings import Embeddings
from langgraph.store.base import TTLConfig
from langgraph.store.postgres import AsyncPostgresStore, PostgresStore
from langgraph.store.postgres.base import PostgresIndexConfig
from psycopg_pool import AsyncConnectionPool

from activities.embeddings import embed

EMBEDDING_DIMS = 384
SWEEP_INTERVAL_MINUTES = 5
"""How often each worker deletes expired items (expired items are hidden from reads before that)."""
STOP_TIMEOUT_S = 5.0


class MiniLMEmbeddings(Embeddings):
    """LangChain's embeddings interface over :func:`activities.embeddings.embed`: 384-float,
    L2-normalised vectors; the async methods run the model in a thread, off the event loop.
    Raises ``FileNotFoundError`` (on first use) when no model is installed."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text."""
        return embed(list(texts))

    def embed_query(self, text: str) -> list[float]:
        """The vector of ``text``."""
        return embed([text])[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, computed in a worker thread."""
        return await asyncio.to_thread(embed, list(texts))

    async def aembed_query(self, text: str) -> list[float]:
        """The vector of ``text``, computed in a worker thread."""
        return (await self.aembed_documents([text]))[0]


def index_config(fields: Sequence[str] = ("text",)) -> PostgresIndexConfig:
    """The store's vector index: MiniLM, :data:`EMBEDDING_DIMS` dimensions, cosine distance, HNSW,
    embedding the item fields ``fields`` by default."""
    return {"dims": EMBEDDING_DIMS, "embed": MiniLMEmbeddings(), "fields": list(fields)}


def ttl_config(sweep_interval_minutes: int = SWEEP_INTERVAL_MINUTES) -> TTLConfig:
    """Expiry as the platform runs it: expired items hidden at once, reads not extending an item
    unless asked, expired rows deleted every ``sweep_interval_minutes``."""
    return {"refresh_on_read": False, "omit_expired": True, "sweep_interval_minutes": sweep_interval_minutes}


async def open_graph_store(pool: AsyncConnectionPool,
                           sweep_interval_minutes: int = SWEEP_INTERVAL_MINUTES) -> AsyncPostgresStore:
    """The store on ``pool`` (open; connections in autocommit with dict rows, as the checkpointer's),
    its expiry sweeper started on the running loop. Its tables must exist (:func:`setup_graph_store`,
    run by ``shipway.db.migrate.upgrade``). Stop it with :func:`close_graph_store`."""
    store = AsyncPostgresStore(pool, index=index_config(), ttl=ttl_config(sweep_interval_minutes))
    await store.start_ttl_sweeper()
    return store


async def close_graph_store(store: AsyncPostgresStore) -> None:
    """Stop the store's sweeper (waiting at most :data:`STOP_TIMEOUT_S`); the pool stays its owner's."""
    await store.stop_ttl_sweeper(timeout=STOP_TIMEOUT_S)


def setup_graph_store(database_url: str) -> None:
    """Create or upgrade the store's tables (``store``, ``store_vectors`` with its HNSW index) in
    the database at ``database_url``. Idempotent. Raises ``psycopg.Error`` when it fails."""
    # the synchronous store: its setup skips the vector migrations a config does not need
    with PostgresStore.from_conn_string(database_url, index=index_config()) as store:
        store.setup()
