"""Ground truth for DAG -> code mapping, derived by running ibis's real TPC query functions: the
calls recorded (spans read off ``ibis/backends/tests/tpc/h/test_queries.py`` by hand), the facts
each call contributed, and the node -> call mapping of the real DuckDB plans of TPC-H Q1, Q3, Q5
and Q6 at scale factor 0.01, checked by hand against the plans and the source; then the whole
TPC-H suite: every truth inside its query's function and on a call chunk of the code index, the
optimiser's own nodes left without truth, and the JSON cache."""

from __future__ import annotations

import datetime
import io

import ibis.expr.types as ir
import pytest
from ibis.expr.types.groupby import GroupedTable
from ibis.expr.types.joins import Join

from reference_agents.dag_mapping import tpc
from reference_agents.dag_mapping.code_index.python_chunks import chunk_python
from reference_agents.dag_mapping.ground_truth.build import build_suite, coverage, print_coverage
from reference_agents.dag_mapping.ground_truth.match import match_plan
from reference_agents.dag_mapping.ground_truth.model import GroundTruth
from reference_agents.dag_mapping.ground_truth.queries import (
    TPC_DIR,
    QueryLoadError,
    add_date,
    load_query_functions,
    tpc_schemas,
)
from reference_agents.dag_mapping.ground_truth.store import ground_truth_from_dict, ground_truth_to_dict
from reference_agents.dag_mapping.ground_truth.trace import TraceError, trace_query
from reference_agents.dag_mapping.plans.duckdb_json import parse_duckdb_json

H = load_query_functions("h")


@pytest.fixture(scope="module")
def h_schemas(tpch):
    return tpc_schemas(tpch)


@pytest.fixture(scope="module")
def ds_schemas(tpcds):
    return tpc_schemas(tpcds)


@pytest.fixture(scope="module")
def h_suite(tmp_path_factory):
    return build_suite("h", scale_factor=0.01, cache_dir=tmp_path_factory.mktemp("gt-cache"))


def _ground_truth(conn, schemas, query_id: int) -> GroundTruth:
    traced = trace_query(H[query_id], schemas)
    return match_plan(traced, parse_duckdb_json(tpc.explain_json(conn, traced.sql)))


def _mapping(truth: GroundTruth) -> list[tuple]:
    """Pre-order (operator, None | (method, start_line, end_line, [(alt method, alt line)]))."""
    rows = []
    for node in truth.plan.walk():
        found = truth.truth.get(node.node_id)
        rows.append(
            (
                node.operator,
                None
                if found is None
                else (
                    found.method,
                    found.start_line,
                    found.end_line,
                    [(a.method, a.start_line) for a in found.alternatives],
                ),
            )
        )
    return rows


# Loading the query functions


def test_the_query_functions_load_without_their_test_module():
    assert sorted(H) == list(range(1, 23))
    assert sorted(load_query_functions("ds")) == list(range(1, 100))
    q1 = H[1]
    assert (q1.name, q1.params, q1.rel_path) == ("test_01", ("lineitem",), "h/test_queries.py")
    assert (q1.start_line, q1.end_line) == (11, 40)  # `def` line, decorator on line 10 stripped
    assert q1.func.__code__.co_filename == str(TPC_DIR / "h" / "test_queries.py")


def test_add_date_is_the_conftest_arithmetic():
    def value(scalar):
        return scalar.op().value

    assert value(add_date("1998-12-01", dd=-90)) == datetime.date(1998, 9, 2)
    assert value(add_date("1993-07-01", dm=3)) == datetime.date(1993, 10, 1)
    assert value(add_date("1995-01-01", dy=2, dd=-1)) == datetime.date(1996, 12, 31)
    assert value(add_date("1996-01-31", dm=1)) == datetime.date(1996, 2, 29)  # month end clamps


def test_an_unknown_suite_is_refused():
    with pytest.raises(QueryLoadError, match="unknown TPC suite 'x'"):
        load_query_functions("x")


def test_schemas_come_from_the_duckdb_tables(h_schemas):
    assert sorted(h_schemas) == [
        "customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier",
    ]
    lineitem = h_schemas["lineitem"]
    assert str(lineitem["l_shipdate"]) == "!date"
    assert str(lineitem["l_extendedprice"]) == "!decimal(15, 2)"


# Tracing


def test_q1_records_its_four_calls_with_exact_spans(h_schemas):
    traced = trace_query(H[1], h_schemas)
    spans = [(c.method, c.start_line, c.start_col, c.end_line, c.end_col) for c in traced.calls]
    assert spans == [
        ("filter", 25, 10, 25, 64),  # q = t.filter(t.l_shipdate <= add_date(...))
        ("group_by", 28, 10, 28, 52),
        ("agg", 29, 10, 38, 5),  # agg's own internal aggregate() call is not recorded
        ("order_by", 39, 10, 39, 52),
    ]
    assert [c.receiver_call for c in traced.calls] == [None, 0, 1, 2]
    assert {c.symbol for c in traced.calls} == {"test_01"}
    lines = (TPC_DIR / "h" / "test_queries.py").read_text().splitlines()
    assert lines[24][10:64] == 'filter(t.l_shipdate <= add_date("1998-12-01", dd=-90))'
    assert traced.sql.startswith("SELECT")


def test_call_facts_are_read_off_the_operations_each_call_added(h_schemas):
    q1 = trace_query(H[1], h_schemas).calls
    assert (q1[0].facts.columns, q1[0].facts.constants) == (("l_shipdate",), ("1998-09-02",))
    assert q1[2].facts.aggregates == ("avg", "count", "sum")
    q6 = trace_query(H[6], h_schemas).calls[0].facts
    assert q6.columns == ("l_discount", "l_quantity", "l_shipdate")
    assert q6.constants == ("0.05", "0.07", "1994-01-01", "1995-01-01", "24")
    # Q7 filters on supp_nation, a rename of n_name: the plan names n_name.
    q7_filter = next(c for c in trace_query(H[7], h_schemas).calls if c.method == "filter")
    assert {"supp_nation", "cust_nation", "n_name"} <= set(q7_filter.facts.columns)
    # Q4's EXISTS subquery: its correlated columns belong to the filter that holds it.
    q4_filter = trace_query(H[4], h_schemas).calls[0].facts
    assert q4_filter.subquery and {"l_orderkey", "o_orderkey"} <= set(q4_filter.columns)


def test_the_methods_are_restored_after_tracing(h_schemas):
    classes = (ir.Table, Join, GroupedTable)
    before = [dict(cls.__dict__) for cls in classes]
    trace_query(H[3], h_schemas)
    assert [dict(cls.__dict__) for cls in classes] == before


def test_every_h_record_starts_at_its_method_name(h_schemas):
    # Relations that isin(...) (Q16, Q20) or as_scalar() build are subqueries of the call they
    # are an argument of, not records of their own.
    lines = (TPC_DIR / "h" / "test_queries.py").read_text().splitlines()
    for query in H.values():
        for call in trace_query(query, h_schemas).calls:
            assert lines[call.start_line - 1][call.start_col :].startswith(call.method + "("), call
            assert lines[call.end_line - 1][call.end_col - 1] == ")", call


def test_ds_calls_in_nested_defs_and_lambdas(ds_schemas):
    ds = load_query_functions("ds")
    q4 = trace_query(ds[4], ds_schemas)
    # profile() is a def inside test_04, called three times: three records, one span each line.
    profile_joins = [c for c in q4.calls if c.symbol == "test_04.profile" and c.method == "join"]
    assert sorted({c.start_line for c in profile_joins}) == [113, 116]
    assert len(profile_joins) == 6
    q1 = trace_query(ds[1], ds_schemas)
    # ctr2.filter(...) runs inside the lambda passed to the outer .filter on line 32.
    filters = [(c.symbol, c.start_line, c.start_col) for c in q1.calls if c.method == "filter"]
    assert ("test_01", 35, 23) in filters and ("test_01", 32, 9) in filters


def test_a_query_ibis_cannot_build_fails_with_its_name(ds_schemas):
    ds = load_query_functions("ds")
    with pytest.raises(TraceError, match=r"ds/test_queries.py::test_14 failed to run: NotImplementedError"):
        trace_query(ds[14], ds_schemas)


# Matching, checked by hand against the plans and the source


def test_q1_mapping(tpch, h_schemas):
    assert _mapping(_ground_truth(tpch, h_schemas, 1)) == [
        ("PROJECTION", None),  # decompression of the output strings
        ("ORDER_BY", ("order_by", 39, 39, [])),
        ("PROJECTION", None),
        ("PROJECTION", None),
        ("PERFECT_HASH_GROUP_BY", ("agg", 29, 38, [("group_by", 28)])),
        ("PROJECTION", None),  # the aggregate's inputs
        ("PROJECTION", None),
        ("PROJECTION", None),
        ("SEQ_SCAN", ("filter", 25, 25, [])),  # l_shipdate <= 1998-09-02 pushed into the scan
    ]


def test_q3_mapping(tpch, h_schemas):
    assert _mapping(_ground_truth(tpch, h_schemas, 3)) == [
        ("TOP_N", ("order_by", 107, 107, [("limit", 108)])),
        ("PROJECTION", ("relocate", 104, 106, [])),  # outputs exactly relocate's columns
        ("PROJECTION", None),
        ("HASH_GROUP_BY", ("agg", 104, 104, [("group_by", 103)])),
        ("PROJECTION", None),
        ("PROJECTION", None),
        ("PROJECTION", None),
        ("HASH_JOIN", ("join", 99, 99, [])),  # l_orderkey = o_orderkey
        ("SEQ_SCAN", ("filter", 100, 102, [])),  # lineitem: l_shipdate > 1995-03-15
        ("HASH_JOIN", ("join", 98, 98, [])),  # o_custkey = c_custkey
        ("SEQ_SCAN", ("filter", 100, 102, [])),  # orders: o_orderdate < 1995-03-15
        ("FILTER", None),  # c_custkey <= 1499: from join statistics, not from the code
        ("SEQ_SCAN", ("filter", 100, 102, [])),  # customer: c_mktsegment = BUILDING
    ]


def test_q5_mapping(tpch, h_schemas):
    assert _mapping(_ground_truth(tpch, h_schemas, 5)) == [
        ("PROJECTION", None),
        ("ORDER_BY", ("order_by", 156, 156, [])),
        ("PROJECTION", None),
        ("PROJECTION", None),
        ("HASH_GROUP_BY", ("agg", 155, 155, [("group_by", 154)])),
        ("PROJECTION", None),
        ("PROJECTION", None),
        # l_orderkey = o_orderkey AND l_suppkey = s_suppkey: two join calls in one operator.
        ("HASH_JOIN", ("join", 139, 139, [("join", 140)])),
        ("SEQ_SCAN", None),  # lineitem, no filter
        ("HASH_JOIN", ("join", 141, 145, [])),  # c_nationkey = s_nationkey
        ("HASH_JOIN", ("join", 138, 138, [])),  # o_custkey = c_custkey
        ("SEQ_SCAN", ("filter", 148, 152, [])),  # orders: the o_orderdate range
        ("HASH_JOIN", ("join", 141, 145, [])),  # c_nationkey = n_nationkey, implied by line 143-144
        ("SEQ_SCAN", None),  # customer: c_custkey <= 1499 is the optimiser's
        ("HASH_JOIN", ("join", 146, 146, [])),  # n_regionkey = r_regionkey
        ("SEQ_SCAN", None),  # nation
        ("SEQ_SCAN", ("filter", 148, 152, [])),  # region: r_name = ASIA
        ("SEQ_SCAN", None),  # supplier
    ]


def test_q6_mapping(tpch, h_schemas):
    assert _mapping(_ground_truth(tpch, h_schemas, 6)) == [
        ("UNGROUPED_AGGREGATE", ("agg", 176, 176, [])),
        ("PROJECTION", None),
        ("PROJECTION", None),
        ("SEQ_SCAN", ("filter", 170, 175, [])),
    ]


def test_ds_q44_windows_and_the_subquery_comparison(tpcds, ds_schemas):
    traced = trace_query(load_query_functions("ds")[44], ds_schemas)
    truth = match_plan(traced, parse_duckdb_json(tpc.explain_json(tpcds, traced.sql)))
    by_operator = {}
    for node in truth.plan.walk():
        found = truth.truth.get(node.node_id)
        if found is not None:
            found = (found.method, found.start_line, [(a.method, a.start_line) for a in found.alternatives])
        by_operator.setdefault(node.operator, []).append(found)
    # rank().over(...) in `ascending` (select on line 2184) and `descending` (2187): the two
    # selects differ only in asc/desc, which the plan does not tell apart: a tie, with the
    # .over calls inside them as alternatives.
    window = ("select", 2184, [("over", 2185), ("select", 2187), ("over", 2188)])
    assert by_operator["WINDOW"] == [window, window]
    # rank_col > (SUBQUERY * 0.9): the having holding the scalar subquery (lines 2171-2181).
    assert by_operator["NESTED_LOOP_JOIN"] == [("having", 2171, []), ("having", 2171, [])]
    # first(x), count_star(): DuckDB's check that the scalar subquery has one row.
    assert by_operator["UNGROUPED_AGGREGATE"] == [None]


# The whole TPC-H suite


def test_every_h_query_gets_a_ground_truth(h_suite):
    assert h_suite.failures == {}
    assert [q.query_id for q in h_suite.queries] == list(range(1, 23))
    for query in h_suite.queries:
        assert query.truth, f"Q{query.query_id} has no truth at all"


def test_every_truth_lies_inside_its_query_function(h_suite):
    for query in h_suite.queries:
        function = query.function
        for found in query.truth.values():
            for span in (found.span, *found.alternatives):
                assert span.path == "h/test_queries.py"
                assert function.start_line <= span.start_line <= span.end_line <= function.end_line
                assert span.symbol == function.symbol or span.symbol.startswith(function.symbol + ".")


def test_every_truth_is_a_call_chunk_of_the_code_index(h_suite):
    path = TPC_DIR / "h" / "test_queries.py"
    chunks = {
        (c.symbol, c.start_line, c.start_col, c.end_line, c.end_col)
        for c in chunk_python("h/test_queries.py", path.read_text())
        if c.kind != "function"
    }
    for query in h_suite.queries:
        for found in query.truth.values():
            for span in (found.span, *found.alternatives):
                key = (span.symbol, span.start_line, span.start_col, span.end_line, span.end_col)
                assert key in chunks, f"Q{query.query_id} {span} is not a chunk"


def test_nodes_the_optimiser_invents_get_no_truth(h_suite):
    for query in h_suite.queries:
        for node in query.plan.walk():
            if node.node_id not in query.truth:
                continue
            assert node.kind.value not in ("other",), node
            # Scans get truth only for filters pushed into them.
            if node.kind.value == "scan":
                assert node.constants or node.detail.get("Filters"), node
            # Nor DuckDB's single-row check of a scalar subquery: first(x), count_star().
            assert sorted(node.aggregates) != ["count", "first"], node
            # Projections only when they clearly compute or output a select's values.
            if node.kind.value == "project":
                assert query.truth[node.node_id].method in ("select", "mutate", "relocate", "rename", "drop")


def test_the_cache_is_reused_and_round_trips(h_suite, tmp_path):
    first = build_suite("h", scale_factor=0.01, cache_dir=tmp_path)
    (cached,) = list(tmp_path.glob("h-sf0.01-*.json"))
    stamp = cached.stat().st_mtime_ns
    again = build_suite("h", scale_factor=0.01, cache_dir=tmp_path)
    assert cached.stat().st_mtime_ns == stamp
    assert [_mapping(q) for q in again.queries] == [_mapping(q) for q in first.queries]
    assert [_mapping(q) for q in first.queries] == [_mapping(q) for q in h_suite.queries]
    q5 = h_suite.queries[4]
    assert _mapping(ground_truth_from_dict(ground_truth_to_dict(q5))) == _mapping(q5)


def test_coverage_counts_and_prints(h_suite):
    cov = coverage(h_suite.queries)
    assert cov.nodes == sum(total for total, _ in cov.by_kind.values())
    assert cov.with_truth == sum(matched for _, matched in cov.by_kind.values())
    assert 0 < cov.with_truth < cov.nodes
    assert cov.by_kind["join"][1] >= cov.by_kind["join"][0] * 0.9  # joins nearly all have truth
    out = io.StringIO()
    print_coverage(h_suite.queries, out)
    assert out.getvalue().startswith(f"22 queries, {cov.nodes} plan nodes, {cov.with_truth} with truth")
