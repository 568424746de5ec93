"""The DAG -> code mapper on real plans: DuckDB's TPC-H plans (its tpch extension at scale factor
0.01, the suite's own SQL) and a Spark TPC-H plan (Apache Spark's golden file), mapped into ibis's
real TPC directory (both suites' Python; with ``languages={"sql"}`` its reference SQL). The spans
expected were read by hand in ``ibis/backends/tests/tpc/h/test_queries.py``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import ibis
import pytest

from reference_agents.dag_mapping import tpc
from reference_agents.dag_mapping.code_index.repository import RepositoryIndex, index_repository
from reference_agents.dag_mapping.mapper.chunk_links import linked_chunks
from reference_agents.dag_mapping.mapper.lexical import LexicalIndex, normalise_constant, tokens
from reference_agents.dag_mapping.mapper.mapper import ACCEPT, SECOND_PASS, MapperIndex, NodeMapping, map_plan
from reference_agents.dag_mapping.mapper.rerank import span_probability, unit_probabilities
from reference_agents.dag_mapping.plans.duckdb_json import parse_duckdb_json
from reference_agents.dag_mapping.plans.model import OperatorKind, PlanNode
from reference_agents.dag_mapping.plans.spark_text import parse_spark_text

TPC_DIR = Path(ibis.__file__).parent / "backends" / "tests" / "tpc"
H_FILE = "h/test_queries.py"
SPARK_PLANS = Path(__file__).parent / "fixtures" / "spark_plans"
K = OperatorKind


@pytest.fixture(scope="module")
def repository() -> RepositoryIndex:
    return index_repository(TPC_DIR)


@pytest.fixture(scope="module")
def python_index(repository) -> MapperIndex:
    return MapperIndex(repository, languages={"python"})


@pytest.fixture(scope="module")
def plans(tpch) -> dict[int, PlanNode]:
    sql = tpc.queries(tpch, "h")
    return {q: parse_duckdb_json(tpc.explain_json(tpch, sql[q])) for q in (1, 3, 6)}


def by_node(mappings: list[NodeMapping]) -> dict[str, NodeMapping]:
    return {m.node_id: m for m in mappings}


def only(plan: PlanNode, kind: OperatorKind, **where) -> PlanNode:
    """The one node of ``kind`` whose attributes contain the given values."""
    found = [
        n for n in plan.walk() if n.kind is kind and all(set(v) <= set(getattr(n, k)) for k, v in where.items())
    ]
    assert len(found) == 1, found
    return found[0]


def span(mapping: NodeMapping) -> tuple:
    return (mapping.path, mapping.symbol, mapping.start_line, mapping.end_line)


def source_line(number: int) -> str:
    return (TPC_DIR / H_FILE).read_text().splitlines()[number - 1].strip()


def test_q1_scan_aggregate_and_order_map_to_their_calls(plans, python_index):
    plan = plans[1]
    mapped = by_node(map_plan(plan, python_index))
    scan = only(plan, K.SCAN, tables=["lineitem"], constants=["1998-09-02"])
    aggregate = only(plan, K.AGGREGATE, aggregates=["sum", "avg", "count"])
    order = only(plan, K.ORDER)

    # the pushed-down l_shipdate <= 1998-09-02 comes from the filter with add_date("1998-12-01", dd=-90)
    assert span(mapped[scan.node_id]) == (H_FILE, "test_01", 25, 25)
    assert source_line(25).startswith("q = t.filter(t.l_shipdate <= add_date(")
    # group_by + agg build one aggregate: the agg call (sum/mean/count) stands for the pair
    assert span(mapped[aggregate.node_id]) == (H_FILE, "test_01", 29, 38)
    assert source_line(29) == "q = q.agg("
    assert span(mapped[order.node_id]) == (H_FILE, "test_01", 39, 39)
    for node in (scan, aggregate, order):
        assert mapped[node.node_id].band == "accept"
        assert "test_01" in mapped[node.node_id].explanation


def test_q3_joins_filter_aggregate_and_top_n(plans, python_index):
    plan = plans[3]
    mapped = by_node(map_plan(plan, python_index))
    expected = {
        only(plan, K.JOIN, columns=["o_custkey", "c_custkey"]).node_id: 98,  # customer.join(orders, ...)
        only(plan, K.JOIN, columns=["l_orderkey", "o_orderkey"]).node_id: 99,  # q.join(lineitem, ...)
        only(plan, K.SCAN, tables=["customer"]).node_id: 100,  # c_mktsegment == "BUILDING", pushed down
        only(plan, K.SCAN, tables=["orders"]).node_id: 100,  # o_orderdate < DATE, pushed down
        only(plan, K.AGGREGATE).node_id: 104,  # qg.agg(revenue=...sum())
        only(plan, K.TOP_N).node_id: 107,  # order_by(...) then limit(10): the order call stands for both
    }
    for node_id, line in expected.items():
        m = mapped[node_id]
        assert (m.path, m.symbol, m.start_line) == (H_FILE, "test_03", line), m.explanation
        assert m.confidence >= ACCEPT
    assert mapped[only(plan, K.SCAN, tables=["customer"]).node_id].end_line == 102  # the filter's closing paren
    assert source_line(98).startswith("q = customer.join(orders")
    assert source_line(107).startswith("q = q.order_by(")


def test_q6_ungrouped_aggregate_and_filter(plans, python_index):
    plan = plans[6]
    mapped = by_node(map_plan(plan, python_index))
    assert span(mapped[only(plan, K.AGGREGATE).node_id]) == (H_FILE, "test_06", 176, 176)
    assert span(mapped[only(plan, K.SCAN).node_id]) == (H_FILE, "test_06", 170, 175)


def test_every_node_gets_one_mapping_in_pre_order(plans, python_index):
    for plan in plans.values():
        mappings = map_plan(plan, python_index)
        assert [m.node_id for m in mappings] == [n.node_id for n in plan.walk()]
        for m in mappings:
            assert 0.0 <= m.confidence <= 1.0
            if m.confidence >= ACCEPT:
                assert m.band == "accept"
            else:
                assert m.band == ("second_pass" if m.confidence >= SECOND_PASS else "review")
            spans = [span(m)] + [(a.path, a.symbol, a.start_line, a.end_line) for a in m.alternatives]
            assert len(spans) == len(set(spans)), "alternatives repeat a span"
            assert all(a.score <= m.signals[0] for a in m.alternatives)


def test_nodes_naming_nothing_go_to_review(plans, python_index):
    # Q1's decompression projections (#0 references only) are the optimiser's, with no code of their own
    plan = plans[1]
    bare = [n for n in plan.walk() if n.kind is K.PROJECT and not (n.columns or n.constants)]
    assert bare
    mapped = by_node(map_plan(plan, python_index))
    assert all(mapped[n.node_id].band == "review" for n in bare)


def test_spark_plan_maps_to_the_same_code(python_index):
    # Spark's TPC-H Q3 (EXPLAIN FORMATTED golden file): another engine's operators, the same calls
    plan = parse_spark_text((SPARK_PLANS / "tpch_q3_explain.txt").read_text())
    mapped = by_node(map_plan(plan, python_index))
    inner_joins = {tuple(sorted(n.columns)): n for n in plan.walk() if n.kind is K.JOIN}
    assert mapped[inner_joins[("c_custkey", "o_custkey")].node_id].start_line == 98
    assert mapped[inner_joins[("l_orderkey", "o_orderkey")].node_id].start_line == 99
    top_n = only(plan, K.TOP_N)
    assert span(mapped[top_n.node_id]) == (H_FILE, "test_03", 107, 107)
    # exchanges and codegen wrappers are no call's doing: no candidate
    exchange = next(n for n in plan.walk() if n.operator == "Exchange")
    assert (mapped[exchange.node_id].path, mapped[exchange.node_id].confidence) == (None, 0.0)


def test_sql_only_index_maps_into_the_reference_sql(plans, repository):
    sql_index = MapperIndex(repository, languages={"sql"})
    mapped = by_node(map_plan(plans[3], sql_index))
    join = mapped[only(plans[3], K.JOIN, columns=["o_custkey", "c_custkey"]).node_id]
    assert join.path.endswith("/h/03.sql") and join.symbol == "03"


def test_deterministic_across_runs_and_hash_seeds(tpch, plans, python_index, repository):
    first = map_plan(plans[3], python_index)
    assert map_plan(plans[3], python_index) == first
    assert map_plan(plans[3], MapperIndex(repository, languages={"python"})) == first
    # string hashing changes set order between interpreters: the mapping must not
    script = (
        "import json, sys\n"
        "from reference_agents.dag_mapping import tpc\n"
        "from reference_agents.dag_mapping.code_index.repository import index_repository\n"
        "from reference_agents.dag_mapping.mapper.mapper import MapperIndex, map_plan\n"
        "from reference_agents.dag_mapping.plans.duckdb_json import parse_duckdb_json\n"
        "plan = parse_duckdb_json(json.load(sys.stdin))\n"
        f"index = MapperIndex(index_repository({str(TPC_DIR)!r}), languages={{'python'}})\n"
        "rows = [[m.node_id, m.path, m.start_line, m.end_line, m.confidence] for m in map_plan(plan, index)]\n"
        "print(json.dumps(rows))\n"
    )
    outputs = []
    raw = json.dumps(tpc.explain_json(tpch, tpc.queries(tpch, "h")[3]))
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONDONTWRITEBYTECODE": "1"}
        done = subprocess.run(
            [sys.executable, "-c", script], input=raw, capture_output=True, text=True, env=env, check=True,
            cwd=Path(__file__).parents[2],
        )
        outputs.append(json.loads(done.stdout))
    expected = [[m.node_id, m.path, m.start_line, m.end_line, m.confidence] for m in first]
    assert outputs[0] == outputs[1] == expected


def test_empty_plan_and_a_node_with_no_columns(python_index):
    empty = PlanNode("n0", "EMPTY_RESULT", K.OTHER)
    [mapping] = map_plan(empty, python_index)
    assert (mapping.node_id, mapping.path, mapping.confidence, mapping.band) == ("n0", None, 0.0, "review")
    assert "no candidate" in mapping.explanation

    scan = PlanNode("n1", "SEQ_SCAN", K.SCAN, tables=["lineitem"])
    bare_join = PlanNode("n0", "HASH_JOIN", K.JOIN, children=[scan])
    mappings = map_plan(bare_join, python_index)
    assert [m.node_id for m in mappings] == ["n0", "n1"]
    assert all(m.band == "review" for m in mappings)


def test_empty_index_and_bad_arguments(plans, python_index):
    mappings = map_plan(plans[6], MapperIndex([]))
    assert all(m.path is None and m.confidence == 0.0 for m in mappings)
    with pytest.raises(ValueError, match="top_k"):
        map_plan(plans[6], python_index, top_k=0)
    with pytest.raises(ValueError, match="unknown languages"):
        MapperIndex([], languages={"cobol"})


def test_lexical_tokens_constants_and_bm25(python_index):
    assert normalise_constant("100.0000") == "100"
    assert normalise_constant("0.060") == normalise_constant("0.06") == "0.06"
    assert normalise_constant(" BUILDING ") == "building"
    assert tokens("q.l_shipdate <= '1998-09-02' AND x > 24.00") == [
        "q", "l_shipdate", "l", "shipdate", "1998-09-02", "and", "x", "24",
    ]
    lexical = python_index.lexical
    [(best, score)] = lexical.top(["c_mktsegment", "building"], 1)
    assert (lexical.chunks[best].symbol, lexical.chunks[best].start_line, lexical.chunks[best].kind) == (
        "test_03", 100, "filter",
    )
    assert score > 0
    assert LexicalIndex([]).scores(["x"]).shape == (0,)


def test_group_by_agg_and_order_by_limit_are_linked(python_index):
    chunks = python_index.chunks
    pairs = {
        (chunks[a].symbol, chunks[a].start_line, chunks[b].start_line)
        for a, b in linked_chunks(chunks).items()
        if a < b
    }
    assert ("test_01", 28, 29) in pairs  # group_by then agg
    assert ("test_03", 103, 104) in pairs
    assert ("test_03", 107, 108) in pairs  # order_by then limit
    assert not any(symbol == "test_01" and first == 39 for symbol, first, _ in pairs)  # order_by alone


def test_probabilities_split_ties():
    assert span_probability([0.8, 0.8], temperature=0.06, null_score=0.0) < 0.5
    assert span_probability([0.8, 0.2], temperature=0.06, null_score=0.0) > 0.99
    assert span_probability([], temperature=0.06, null_score=0.0) == 0.0
    assert unit_probabilities([0.9, 0.9, 0.1]) == pytest.approx([0.5, 0.5, 0.0], abs=1e-6)
