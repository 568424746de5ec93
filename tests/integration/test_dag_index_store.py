"""The DAG -> code mapping agent's code index in the worker's LangGraph store: real PostgreSQL +
pgvector migrated by ``shipway.db.migrate.upgrade`` (the ``pg_url`` fixture), the store as the
worker opens it (``shipway.graph_store``, on a pool acting as the workers' role), the real MiniLM
model, and copies of ibis's TPC directory as repositories. The store's sync API is called from a
thread, as LangGraph calls it from a sync node."""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from pathlib import Path

import ibis
import pytest
import pytest_asyncio
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from reference_agents.dag_mapping import index_store
from reference_agents.dag_mapping.index_cache import IndexCache, RepositoryChanged
from shipway.db.engine import role_options
from shipway.graph_store import close_graph_store, open_graph_store

pytestmark = pytest.mark.integration

TPC_DIR = Path(ibis.__file__).parent / "backends" / "tests" / "tpc"
PYTHON = ["python"]


def copy_tpc(target: Path, source: Path = TPC_DIR) -> Path:
    """A copy of ``source`` with a file of its own, so its fingerprint is new to the shared database."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    (target / "marker.py").write_text(f"# {uuid.uuid4()}\n")
    return target


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def store(pg_url):
    """The graphs' store as the worker opens it, as ``shipway_platform``."""
    pool = AsyncConnectionPool(pg_url, min_size=1, max_size=4, open=False,
                               kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row,
                                       **role_options("shipway_platform")})
    await pool.open()
    graph_store = await open_graph_store(pool)
    yield graph_store
    await close_graph_store(graph_store)
    await pool.close()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def built(store, tmp_path_factory):
    """(repository, the first lookup) of a TPC copy indexed once into the store (python chunks)."""
    repo = copy_tpc(tmp_path_factory.mktemp("built") / "tpc")
    return repo, await asyncio.to_thread(IndexCache().lookup, repo, PYTHON, 3600, store)


async def test_a_fresh_process_reads_the_index_back_from_the_store(store, built):
    repo, first = built
    assert first.source == "built"
    cache = IndexCache()
    second = await asyncio.to_thread(cache.lookup, repo, PYTHON, 3600, store)
    assert second.source == "store" and cache.builds == 0
    assert second.entry.index.chunks == first.entry.index.chunks  # every field: spans, text, features, order
    assert len(second.entry.index.chunks) == 1609
    assert second.entry.content_hash == first.entry.content_hash
    assert (await asyncio.to_thread(cache.lookup, repo, PYTHON, 3600, store)).source == "process"

    # the manifest describes the entry; another languages selection is another entry
    ns = index_store.namespace(first.entry.fingerprint, PYTHON)
    manifest = (await store.aget(ns, index_store.MANIFEST)).value
    assert manifest["chunks"] == 1609 and manifest["content_hash"] == first.entry.content_hash
    assert manifest["skipped"] == [] and manifest["built_at"] <= time.time()
    assert await asyncio.to_thread(index_store.load_index, store, first.entry.fingerprint, ["sql"]) is None


async def test_an_entry_without_its_manifest_or_a_chunk_is_never_read(store, tmp_path):
    repo = copy_tpc(tmp_path / "tpc", TPC_DIR / "h")
    built = await asyncio.to_thread(IndexCache().lookup, repo, PYTHON, 3600, store)
    ns = index_store.namespace(built.entry.fingerprint, PYTHON)
    await store.adelete(ns, "chunk-0000003")  # a chunk gone (expired a moment before the manifest)
    assert await asyncio.to_thread(index_store.load_index, store, built.entry.fingerprint, PYTHON) is None
    await store.adelete(ns, index_store.MANIFEST)  # as a writer that died before its last write leaves it
    again = await asyncio.to_thread(IndexCache().lookup, repo, PYTHON, 3600, store)
    assert again.source == "built" and again.entry.index.chunks == built.entry.index.chunks
    assert (await asyncio.to_thread(IndexCache().lookup, repo, PYTHON, 3600, store)).source == "store"


async def test_an_expired_entry_is_hidden_swept_and_rebuilt(store, tmp_path):
    repo = copy_tpc(tmp_path / "tpc", TPC_DIR / "h")  # TPC-H only: two builds stay quick
    first = await asyncio.to_thread(IndexCache().lookup, repo, PYTHON, 3, store)
    assert first.source == "built"
    assert (await asyncio.to_thread(IndexCache().lookup, repo, PYTHON, 3, store)).source == "store"
    await asyncio.sleep(3.5)
    # expired: hidden from reads at once, deleted by the sweeper
    assert await asyncio.to_thread(index_store.load_index, store, first.entry.fingerprint, PYTHON) is None
    assert await store.sweep_ttl() >= len(first.entry.index.chunks) + 1
    assert (await asyncio.to_thread(IndexCache().lookup, repo, PYTHON, 3, store)).source == "built"
    assert (await asyncio.to_thread(IndexCache().lookup, repo, PYTHON, 3, store)).source == "store"


async def test_a_changed_repository_gets_a_new_entry_and_a_running_job_keeps_its_own(store, built, tmp_path):
    repo, first = built
    edited = Path(shutil.copytree(repo, tmp_path / "tpc"))
    queries = edited / "h" / "test_queries.py"
    source = queries.read_text()
    assert source.count("def test_06(") == 1
    queries.write_text(source.replace("def test_06(", "def test_06_edited("))

    changed = await asyncio.to_thread(IndexCache().lookup, edited, PYTHON, 3600, store)
    assert changed.source == "built" and changed.entry.fingerprint != first.entry.fingerprint
    assert changed.entry.content_hash != first.entry.content_hash
    symbols = {c.symbol for c in changed.entry.index.chunks if c.path == "h/test_queries.py"}
    assert "test_06_edited" in symbols and "test_06" not in symbols

    # a job that saw the old files asks for their fingerprint: the store still has exactly that index
    old = await asyncio.to_thread(IndexCache().get, edited, first.entry.fingerprint, PYTHON, 3600, store)
    assert old.index.chunks == first.entry.index.chunks
    # with no stored entry, a rebuild from the changed files is refused, as before
    missing = "0" * 64
    with pytest.raises(RepositoryChanged):
        await asyncio.to_thread(IndexCache().get, edited, missing, PYTHON, 3600, store)


async def test_semantic_search_finds_the_tpch_query_by_meaning(store, built):
    _, first = built
    hits = await asyncio.to_thread(index_store.search_code, store, first.entry.fingerprint, PYTHON,
                                   "lineitem shipdate discount revenue", 5)
    assert len(hits) == 5
    assert all(h.chunk.kind == "function" for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True) and 0 < hits[-1].score <= 1
    top = hits[0].chunk
    assert top.path == "h/test_queries.py" and top.symbol.startswith("test_")
    assert top in first.entry.index.chunks  # the indexed chunk, whole: span and text
    assert "l_shipdate" in top.text and "l_discount" in top.text
    # another entry's namespace holds none of these
    assert await asyncio.to_thread(index_store.search_code, store, "f" * 64, PYTHON, "revenue", 5) == []
