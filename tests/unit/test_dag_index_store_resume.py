"""The DAG -> code mapping graph with a LangGraph store (LangGraph's ``InMemoryStore``, no embeddings):
the index is built once, a process with an empty cache reads it from the store, and a job resumed
in such a process maps from the stored index even after the repository's files are gone. The
PostgreSQL store is tested in tests/integration/test_dag_index_store.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import ibis
import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore

from reference_agents.dag_mapping import graph as graph_module
from reference_agents.dag_mapping import index_store, tpc
from reference_agents.dag_mapping.code_index.repository import RepositoryNotFound
from reference_agents.dag_mapping.graph import build_graph
from reference_agents.dag_mapping.index_cache import IndexCache

TPC_DIR = Path(ibis.__file__).parent / "backends" / "tests" / "tpc"


@pytest.fixture(scope="module")
def q6(tpch) -> list:
    return tpc.explain_json(tpch, tpc.queries(tpch, "h")[6])


@pytest.fixture
def repo(tmp_path) -> Path:
    """A copy of ibis's TPC directory: a path no other test's cache holds."""
    return Path(shutil.copytree(TPC_DIR, tmp_path / "tpc", ignore=shutil.ignore_patterns("__pycache__")))


def fresh_process(monkeypatch) -> IndexCache:
    """What a new worker process has: an empty index cache."""
    cache = IndexCache()
    monkeypatch.setattr(graph_module, "INDEX_CACHE", cache)
    return cache


def compiled(repo: Path, **compile_args):
    """The mapping graph allowed to read ``repo``'s directory, compiled with ``compile_args``."""
    return build_graph({"repository_roots": [str(repo.parent)]}).compile(**compile_args)


def run(graph, job: dict, thread: str) -> dict:
    config = {"configurable": {"thread_id": thread}}
    graph.invoke(job, config)
    return graph.get_state(config).values


def test_second_process_reads_the_index_from_the_store(monkeypatch, repo, q6):
    store = InMemoryStore()
    graph = compiled(repo, checkpointer=InMemorySaver(), store=store)
    job = {"analysis_id": "a-1", "repository": str(repo), "plan": q6, "languages": ["python"]}

    first_cache = fresh_process(monkeypatch)
    first = run(graph, job, "t1")
    assert first["index"]["source"] == "built" and first_cache.builds == 1
    manifest = store.get(index_store.namespace(first["index"]["fingerprint"], ["python"]), index_store.MANIFEST).value
    assert manifest["chunks"] == first["index"]["chunks"] == 1609
    assert manifest["content_hash"] == first["index"]["content_hash"]
    assert run(graph, job, "t2")["index"]["source"] == "process"

    second_cache = fresh_process(monkeypatch)
    second = run(graph, job, "t3")
    assert second["index"]["source"] == "store" and second_cache.builds == 0
    assert second["code_mappings"] == first["code_mappings"]
    entry = second_cache.of(second["index"])
    assert entry.index.chunks == first_cache.of(first["index"]).index.chunks  # same chunks, spans, order


def test_a_resumed_job_maps_from_the_store_when_the_files_are_gone(monkeypatch, repo, q6):
    store = InMemoryStore()
    job = {"analysis_id": "a-2", "repository": str(repo), "plan": q6, "languages": ["python"]}
    fresh_process(monkeypatch)
    expected = run(compiled(repo, checkpointer=InMemorySaver(), store=store), job, "whole")["code_mappings"]

    # two jobs stop after their index step; they resume in a new process, the checkout deleted meanwhile
    saver = InMemorySaver()
    paused = compiled(repo, checkpointer=saver, store=store, interrupt_before=["plan_context"])
    with_store, without = {"configurable": {"thread_id": "with-store"}}, {"configurable": {"thread_id": "without"}}
    for config in (with_store, without):
        paused.invoke(job, config)
        assert paused.get_state(config).values["index"]["source"] == "process"
    shutil.rmtree(repo)

    cache = fresh_process(monkeypatch)
    resumed = compiled(repo, checkpointer=saver, store=store)
    resumed.invoke(None, with_store)
    assert resumed.get_state(with_store).values["code_mappings"] == expected
    assert cache.builds == 0

    # without a store another new process can only rebuild, from files that are no longer there
    fresh_process(monkeypatch)
    with pytest.raises(RepositoryNotFound):
        compiled(repo, checkpointer=saver).invoke(None, without)
