"""The DAG -> code mapping graph, compiled with an in-memory checkpointer, on DuckDB's real TPC-H plans
(tpch extension, scale factor 0.01) mapped into ibis's real TPC directory: bounded fan-out, one
interrupt for every low-confidence node, the LLM re-rank's cost cap (loopback OpenAI stub), the
index cache, and clear errors for bad input."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import ibis
import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from pydantic import ValidationError

from reference_agents.dag_mapping import node_task, tpc
from reference_agents.dag_mapping.code_index.repository import ArchiveError, index_repository
from reference_agents.dag_mapping.graph import build_graph
from reference_agents.dag_mapping.index_cache import INDEX_CACHE, IndexCache, RepositoryChanged
from reference_agents.dag_mapping.inputs import MappingJobInput, RepositoryNotAllowed
from reference_agents.dag_mapping.mapper.mapper import MapperIndex, map_plan
from reference_agents.dag_mapping.outputs import output
from reference_agents.dag_mapping.plan_rows import from_rows, to_rows
from reference_agents.dag_mapping.plans.duckdb_json import parse_duckdb_json
from shipway.db.models import CODE_MAPPING_FIELDS
from tests.support.openai_stub import OpenAIStub, use_stub

TPC_DIR = str(Path(ibis.__file__).parent / "backends" / "tests" / "tpc")
MODEL = "openai:gpt-4o-mini"


@pytest.fixture(scope="module")
def plans(tpch) -> dict[int, list]:
    sql = tpc.queries(tpch, "h")
    # Q2: 30 nodes, waves of up to 15 ready scans; Q1: 4 low-confidence nodes; Q13: 3 nodes left in
    # the second-pass band; Q6: every node accepted
    return {q: tpc.explain_json(tpch, sql[q]) for q in (1, 2, 6, 13)}


@pytest.fixture(scope="module")
def graph():
    return build_graph({}).compile(checkpointer=InMemorySaver())


_threads = iter(range(1_000_000))


def run(graph, job: dict, config: dict | None = None, resume=None) -> tuple[dict, dict]:
    """Invoke (or resume) one job; returns (config used, state values)."""
    config = config or {"configurable": {"thread_id": f"job-{next(_threads)}"}}
    graph.invoke(Command(resume=resume) if resume is not None else job, config)
    return config, graph.get_state(config)


def job(plan, **extra) -> dict:
    return {"analysis_id": "a-1", "repository": TPC_DIR, "plan": plan, "languages": ["python"], **extra}


@pytest.mark.parametrize("limit", [2, 5])
def test_fan_out_never_exceeds_max_parallel_nodes(graph, plans, monkeypatch, limit):
    active, peak, lock = 0, 0, threading.Lock()
    original = node_task.map_task

    def observed(task, cache):
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        try:
            time.sleep(0.03)  # long enough for the branches of one superstep to overlap
            return original(task, cache)
        finally:
            with lock:
                active -= 1

    monkeypatch.setattr(node_task, "map_task", observed)
    # the caller's runtime config allows far more: the graph's waves still bound it
    config = {"configurable": {"thread_id": f"fan-{limit}"}, "max_concurrency": 64}
    _, state = run(graph, job(plans[2], max_parallel_nodes=limit), config)
    values = state.values
    assert peak == limit  # reached (the branches do run in parallel) and never exceeded
    assert max(len(w) for w in values["waves"]) == limit
    assert sorted(n for w in values["waves"] for n in w) == sorted(r["node_id"] for r in values["nodes"])
    # bottom-up: every node's children were mapped in an earlier wave
    wave_of = {n: i for i, w in enumerate(values["waves"]) for n in w}
    assert all(wave_of[c] < wave_of[r["node_id"]] for r in values["nodes"] for c in r["children"])


def test_caller_max_concurrency_lowers_the_wave(graph, plans):
    config = {"configurable": {"thread_id": "fan-caller-1"}, "max_concurrency": 1}
    _, state = run(graph, job(plans[2], max_parallel_nodes=5), config)
    assert {len(w) for w in state.values["waves"] if w} == {1}


def test_same_mappings_as_map_plan_from_text_or_parsed_rows(graph, plans):
    expected = map_plan(parse_duckdb_json(plans[6]), MapperIndex(index_repository(TPC_DIR), languages={"python"}))
    _, from_text = run(graph, job(plans[6]))
    rows = to_rows(parse_duckdb_json(plans[6]))
    _, from_parsed = run(graph, {**job(None), "plan": None, "dag_nodes": rows})
    for state in (from_text, from_parsed):
        out = output(state.values)
        assert out["decision"] == "mapped" and out["reasons"] == ["ALL_ACCEPTED"]
        got = [(m["node_id"], m["path"], m["symbol"], m["start_line"], m["end_line"], m["confidence"])
               for m in out["mappings"]]
        assert got == [(m.node_id, m.path, m.symbol, m.start_line, m.end_line, round(m.confidence, 4))
                       for m in expected]
        assert all(m["source"] == "mapper" and m["reviewed_by"] is None for m in out["mappings"])
        # each mapping carries exactly the fields a code_mappings row is written from
        assert all(tuple(m) == CODE_MAPPING_FIELDS for m in out["mappings"])


def test_low_confidence_nodes_interrupt_once_and_resume_marks_them_reviewed(graph, plans):
    config, state = run(graph, job(plans[1]))
    results = state.values["results"]
    low = [r["node_id"] for r in state.values["nodes"] if results[r["node_id"]]["band"] == "review"]
    assert len(low) >= 3
    (interrupt,) = [i for task in state.tasks for i in task.interrupts]  # one interrupt for them all
    request = interrupt.value
    assert request["kind"] == "dag_mapping_review"
    assert [n["node_id"] for n in request["context"]["nodes"]] == low
    assert all(n["confidence"] < 0.5 for n in request["context"]["nodes"])
    assert output(state.values)["decision"] == "pending_review"

    with_candidates = [n for n in request["context"]["nodes"] if n["candidates"]]
    first = with_candidates[0]["node_id"]
    second = next(n for n in low if n != first)
    answers = {n: {"action": "reject"} for n in low}
    answers[first] = {"action": "accept", "candidate": len(with_candidates[0]["candidates"]) - 1}
    answers[second] = {"action": "locate", "path": "h/test_queries.py", "symbol": "test_01", "start_line": 10,
                       "end_line": 12}
    # an answer naming a node not under review is refused: the same request comes back, with the error
    _, state = run(graph, None, config, resume={"decision": "apply", "reviewer": "ana", "nodes": {**answers, "n999": {"action": "reject"}}})
    (again,) = [i for task in state.tasks for i in task.interrupts]
    assert "n999" in again.value["error"]

    _, state = run(graph, None, config, resume={"decision": "apply", "reviewer": "ana", "nodes": answers})
    assert not state.next
    out = output(state.values)
    assert out["decision"] == "mapped_with_review"
    assert {"HUMAN_REVIEWED", "NODES_REJECTED"} <= set(out["reasons"])
    by_id = {m["node_id"]: m for m in out["mappings"]}
    chosen = with_candidates[0]["candidates"][-1]
    assert (by_id[first]["path"], by_id[first]["start_line"]) == (chosen["path"], chosen["start_line"])
    assert (by_id[second]["path"], by_id[second]["start_line"], by_id[second]["end_line"]) == ("h/test_queries.py", 10, 12)
    for node_id in low:
        assert by_id[node_id]["reviewed_by"] == "ana" and by_id[node_id]["source"] == "human"
        assert by_id[node_id]["band"] == ("rejected" if answers[node_id]["action"] == "reject" else "reviewed")
    assert all(m["reviewed_by"] is None for n, m in by_id.items() if n not in low)


@pytest.fixture
def stub(monkeypatch):
    with OpenAIStub() as server:
        use_stub(monkeypatch, server)
        yield server


def second_pass_nodes(state) -> list[dict]:
    return [r for r in state.values["results"].values() if r["band"] == "second_pass" and len(r["candidates"]) > 1]


def test_cost_cap_sends_later_nodes_down_the_no_llm_path(graph, plans, stub):
    cap = 1e-9  # the first call costs more
    config = {"configurable": {"thread_id": "capped", "model": MODEL}}
    _, state = run(graph, job(plans[13], max_job_cost_usd=cap), config)
    nodes = second_pass_nodes(state)
    assert len(nodes) >= 2
    assert len(stub.requests) == 1 == state.values["llm_calls"]
    assert sorted(r["llm"] for r in nodes) == ["cost_capped"] * (len(nodes) - 1) + ["kept"]
    _, state = run(graph, None, config, resume={"decision": "reject_all", "reviewer": "ana"})
    out = output(state.values)
    assert out["decision"] == "cost_capped" and "COST_CAP_REACHED" in out["reasons"]
    assert out["cost_usd"] >= cap
    usage = stub.usages[0]
    assert out["cost_usd"] == pytest.approx((usage["prompt_tokens"] * 0.15 + usage["completion_tokens"] * 0.60) / 1e6)
    request = stub.requests[0]
    assert request["tool_choice"]["function"]["name"] == "choose_span"
    assert "Candidate 1:" in request["messages"][-1]["content"]


def test_under_the_cap_every_second_pass_node_is_reranked(graph, plans, stub):
    config = {"configurable": {"thread_id": "uncapped", "model": MODEL}}
    _, state = run(graph, job(plans[13]), config)
    nodes = second_pass_nodes(state)
    assert len(stub.requests) == len(nodes) == state.values["llm_calls"]
    assert {r["llm"] for r in nodes} == {"kept"}  # the stub picks candidate 0
    assert not state.values["cost_capped"] and 0 < state.values["cost_usd"] < 5.0


def test_without_a_model_no_llm_is_called(graph, plans, stub):
    _, state = run(graph, job(plans[13]))
    assert stub.requests == [] and state.values["llm_calls"] == 0 and state.values["cost_usd"] == 0.0
    assert {r["llm"] for r in second_pass_nodes(state)} == {"no_model"}


def test_index_is_built_once_per_repository_content(graph, plans):
    run(graph, job(plans[6]))
    builds = INDEX_CACHE.builds
    run(graph, job(plans[6]))
    assert INDEX_CACHE.builds == builds


def test_index_cache_expires_and_sees_edits(tmp_path):
    (tmp_path / "q.py").write_text("def q(t):\n    return t.filter(t.a > 1)\n")
    now = [0.0]
    cache = IndexCache(max_entries=2, clock=lambda: now[0])
    first = cache.ensure(tmp_path, None, ttl_seconds=60)
    assert cache.ensure(tmp_path, None, ttl_seconds=60) is first and cache.builds == 1
    now[0] = 61.0
    assert cache.ensure(tmp_path, None, ttl_seconds=60) is not first and cache.builds == 2
    (tmp_path / "q.py").write_text("def q(t):\n    return t.filter(t.a > 2)\n")
    edited = cache.ensure(tmp_path, None, ttl_seconds=60)
    assert edited.fingerprint != first.fingerprint and edited.content_hash != first.content_hash
    # a later step asking for the fingerprint its job started with, after the files changed
    cache.clear()
    with pytest.raises(RepositoryChanged, match=str(tmp_path.resolve())):
        cache.get(tmp_path, first.fingerprint, None)


def error_of(**fields) -> str:
    with pytest.raises(ValidationError) as caught:
        MappingJobInput.model_validate({"analysis_id": "a-1", "repository": TPC_DIR, **fields})
    return str(caught.value)


def test_bad_input_is_refused_naming_the_problem(plans, tmp_path):
    assert "unknown plan format 'oracle_xml'; known formats: duckdb_json, spark_text" in error_of(
        plan=plans[6], plan_format="oracle_xml")
    assert "plan: duckdb_json: not JSON" in error_of(plan="{not json")
    assert "spark_text: no operator lines" in error_of(plan="== Physical Plan ==\n", plan_format="spark_text")
    assert f"repository not found: {tmp_path / 'absent'}" in error_of(plan=plans[6], repository=str(tmp_path / "absent"))
    assert "DAG has no nodes" in error_of(plan=[])
    assert "the plan has no nodes" in error_of(dag_nodes=[])
    assert "exactly one of plan" in error_of()
    rows = to_rows(parse_duckdb_json(plans[6]))
    assert "unknown kind 'sort'" in error_of(dag_nodes=[{**rows[0], "kind": "sort"}, *rows[1:]])
    assert "names child 'n9'" in error_of(dag_nodes=[{**rows[0], "children": ["n9"]}, *rows[1:]])
    assert "unknown languages ['rust']" in error_of(plan=plans[6], languages=["rust"])
    assert "max_parallel_nodes" in error_of(plan=plans[6], max_parallel_nodes=33)
    assert from_rows(rows).node_id == "n0"


def test_graph_refuses_bad_input_and_non_archives(graph, plans, tmp_path):
    with pytest.raises(ValidationError, match="unknown plan format"):
        run(graph, job(plans[6], plan_format="oracle_xml"))
    not_archive = tmp_path / "code.txt"
    not_archive.write_text("hello")
    with pytest.raises(RepositoryNotAllowed, match=f"repository {not_archive} is outside the directories"):
        run(graph, job(plans[6], repository=str(not_archive)))
    # through a symbolic link inside a root, to a file outside it: refused too
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "escape").symlink_to(not_archive)
    roots = build_graph({"repository_roots": [str(tmp_path / "root")]}).compile(checkpointer=InMemorySaver())
    with pytest.raises(RepositoryNotAllowed, match="outside the directories"):
        run(roots, job(plans[6], repository=str(tmp_path / "root" / "escape")))
    allowed = build_graph({"repository_roots": [str(tmp_path)]}).compile(checkpointer=InMemorySaver())
    with pytest.raises(ArchiveError, match="neither a directory nor"):
        run(allowed, job(plans[6], repository=str(not_archive)))
    for bad in ({"repository_roots": []}, {"repository_roots": "/tmp"}, {"index_ttl": 5}):
        with pytest.raises(ValueError, match="repository_roots|unknown config keys"):
            build_graph(bad)
