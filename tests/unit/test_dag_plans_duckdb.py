"""DuckDB JSON plans of the real TPC-H and TPC-DS queries (DuckDB's tpch/tpcds extensions at scale
factor 0.01) read into PlanNode trees: operator kinds, tables, columns, constants, aggregates."""

from __future__ import annotations

import json

import pytest

from reference_agents.dag_mapping import tpc
from reference_agents.dag_mapping.plans.duckdb_json import OPERATOR_KINDS, parse_duckdb_json
from reference_agents.dag_mapping.plans.model import OperatorKind, PlanFormatError, PlanNode
from reference_agents.dag_mapping.plans.registry import parse_plan

# Operators with no SQL clause of their own: CTE materialisation and reads, correlated-subquery
# plumbing (DELIM_SCAN), constant tables, SELECT without FROM, and plans folded to nothing.
ALLOWED_OTHER = {"CTE", "CTE_SCAN", "DELIM_SCAN", "COLUMN_DATA_SCAN", "DUMMY_SCAN", "EMPTY_RESULT"}


@pytest.fixture(scope="module")
def tpch_plans(tpch) -> dict[int, list]:
    return {nr: tpc.explain_json(tpch, sql) for nr, sql in tpc.queries(tpch, "h").items()}


@pytest.fixture(scope="module")
def tpcds_plans(tpcds) -> dict[int, list]:
    return {nr: tpc.explain_json(tpcds, sql) for nr, sql in tpc.queries(tpcds, "ds").items()}


def nodes(root: PlanNode, kind: OperatorKind) -> list[PlanNode]:
    return [n for n in root.walk() if n.kind is kind]


def test_suites_ship_all_their_queries(tpch, tpcds, tpch_plans, tpcds_plans):
    assert sorted(tpch_plans) == list(range(1, 23))
    assert sorted(tpcds_plans) == list(range(1, 100))
    assert "l_shipdate" in tpc.queries(tpch, "h")[1]
    # EXPLAIN (FORMAT JSON) gives a list with the one root operator
    assert isinstance(tpch_plans[1], list) and len(tpch_plans[1]) == 1
    assert set(tpch_plans[1][0]) == {"name", "children", "extra_info"}


def test_q1_scan_filter_constant_and_aggregates(tpch_plans):
    root = parse_duckdb_json(tpch_plans[1])
    assert (root.node_id, root.kind) == ("n0", OperatorKind.PROJECT)
    assert [n.node_id for n in root.walk()] == [f"n{i}" for i in range(len(list(root.walk())))]

    (scan,) = nodes(root, OperatorKind.SCAN)
    assert (scan.operator, scan.tables) == ("SEQ_SCAN", ["lineitem"])
    assert scan.columns == [
        "l_returnflag", "l_linestatus", "l_quantity", "l_extendedprice", "l_discount", "l_tax", "l_shipdate",
    ]
    # the WHERE clause is pushed into the scan: l_shipdate <= '1998-09-02'::DATE
    assert scan.constants == ["1998-09-02"]
    assert scan.detail["Filters"] == "l_shipdate<='1998-09-02'::DATE"
    assert scan.children == []

    (aggregate,) = nodes(root, OperatorKind.AGGREGATE)
    assert aggregate.operator == "PERFECT_HASH_GROUP_BY"
    # sum x4, avg x3 and count(*) (DuckDB's count_star) in the SELECT list
    assert aggregate.aggregates == ["sum", "avg", "count"]
    assert aggregate.columns == []  # groups and arguments are #n references

    (order,) = nodes(root, OperatorKind.ORDER)
    assert order.columns == ["l_returnflag", "l_linestatus"]


def test_q3_joins_scans_and_top_n(tpch_plans):
    root = parse_duckdb_json(tpch_plans[3])
    assert root.kind is OperatorKind.TOP_N
    assert root.constants[-1] == "10" and root.detail["Top"] == "10"

    joins = nodes(root, OperatorKind.JOIN)
    assert [(j.operator, j.detail["Join Type"]) for j in joins] == [("HASH_JOIN", "INNER")] * 2
    assert [set(j.columns) for j in joins] == [{"l_orderkey", "o_orderkey"}, {"o_custkey", "c_custkey"}]
    # each join's inputs are real subtrees
    assert all(len(j.children) == 2 for j in joins)

    scans = {s.tables[0]: s for s in nodes(root, OperatorKind.SCAN)}
    assert sorted(scans) == ["customer", "lineitem", "orders"]
    assert scans["customer"].constants == ["BUILDING"]
    assert scans["orders"].constants == ["1995-03-15"]
    assert scans["lineitem"].constants == ["1995-03-15"]
    assert {"l_shipdate", "l_orderkey"} <= set(scans["lineitem"].columns)

    (aggregate,) = nodes(root, OperatorKind.AGGREGATE)
    assert (aggregate.operator, aggregate.aggregates) == ("HASH_GROUP_BY", ["sum"])


def test_every_tpc_plan_parses_with_known_operators_only(tpch_plans, tpcds_plans):
    seen: dict[str, OperatorKind] = {}
    for suite, plans in (("h", tpch_plans), ("ds", tpcds_plans)):
        for nr, plan in plans.items():
            root = parse_duckdb_json(plan)
            ids = [n.node_id for n in root.walk()]
            assert len(ids) == len(set(ids)), (suite, nr)
            for node in root.walk():
                seen[node.operator] = node.kind
                assert all(c and c == c.lower() and not c.startswith("#") for c in node.columns), (suite, nr, node)
                assert not {"optional", "dynamic", "filter", "subquery", "false"} & set(node.columns), (suite, nr)
    print("DuckDB operators in TPC-H + TPC-DS plans:", sorted(seen))
    assert set(seen) <= set(OPERATOR_KINDS)
    assert {op for op, kind in seen.items() if kind is OperatorKind.OTHER} <= ALLOWED_OTHER
    # every kind but distinct (DuckDB plans DISTINCT as a HASH_GROUP_BY) occurs
    assert set(seen.values()) == set(OperatorKind) - {OperatorKind.DISTINCT}


def test_window_functions_and_tpcds_scans(tpcds_plans):
    # q36: rank() OVER (PARTITION BY lochierarchy, ... ORDER BY gross_margin)
    (window,) = nodes(parse_duckdb_json(tpcds_plans[36]), OperatorKind.WINDOW)
    assert window.aggregates == ["rank"]
    assert "gross_margin" in window.columns
    # q47: avg(sum(ss_sales_price)) OVER (...) and rank() OVER (...)
    windows = nodes(parse_duckdb_json(tpcds_plans[47]), OperatorKind.WINDOW)
    assert sorted(w.aggregates[0] for w in windows) == ["avg", "rank"]

    # q3: date_dim scan filtered on d_moy = 11, item scan on i_manufact_id = 128
    scans = {s.tables[0]: s for s in nodes(parse_duckdb_json(tpcds_plans[3]), OperatorKind.SCAN)}
    assert sorted(scans) == ["date_dim", "item", "store_sales"]
    assert "11" in scans["date_dim"].constants and "d_moy" in scans["date_dim"].columns
    assert "128" in scans["item"].constants


def test_text_list_and_dict_forms_read_the_same(tpch_plans):
    as_text = json.dumps(tpch_plans[6])
    a, b, c = parse_duckdb_json(as_text), parse_duckdb_json(tpch_plans[6]), parse_duckdb_json(tpch_plans[6][0])
    assert a == b == c == parse_plan("duckdb_json", as_text)
    # q6: every aggregate input is a filtered lineitem scan with the three predicates' constants
    (scan,) = nodes(a, OperatorKind.SCAN)
    assert {"1994-01-01", "1995-01-01", "24.00"} <= set(scan.constants)


@pytest.mark.parametrize(
    ("plan", "problem"),
    [
        ("{not json", "not JSON"),
        ("[]", "got 0 items"),
        ([{"name": "A", "children": []}, {"name": "B", "children": []}], "got 2 items"),
        ('"PROJECTION"', "str, not an object"),
        ({"children": []}, 'no "name"'),
        ({"name": "  ", "children": []}, 'no "name"'),
        ({"name": "FILTER", "children": {"name": "SEQ_SCAN"}}, '"children" of FILTER at root is dict'),
        ({"name": "FILTER", "children": [{"name": "X", "children": [7]}]}, "operator at root/FILTER[0]/X[0] is int"),
        ({"name": "FILTER", "children": [], "extra_info": "x > 1"}, '"extra_info" of FILTER at root is str'),
    ],
)
def test_malformed_plans_raise_plan_format_error(plan, problem):
    with pytest.raises(PlanFormatError, match="^duckdb_json: ") as caught:
        parse_duckdb_json(plan)
    assert problem in str(caught.value)


def test_table_function_scans_are_scans(tpch, tmp_path):
    # DuckDB names a table-function scan after the function (READ_PARQUET) and gives no Table
    path = tmp_path / "nation.parquet"
    tpch.execute(f"COPY nation TO '{path}' (FORMAT parquet)")
    root = parse_duckdb_json(tpc.explain_json(tpch, f"SELECT n_name FROM read_parquet('{path}') WHERE n_regionkey = 3"))
    (scan,) = nodes(root, OperatorKind.SCAN)
    assert (scan.operator, scan.tables, scan.detail["Function"]) == ("READ_PARQUET", [], "READ_PARQUET")
    assert "n_regionkey" in scan.columns and scan.constants == ["3"]


def test_tpc_connection_errors():
    with pytest.raises(ValueError, match="unknown TPC suite 'x'"):
        tpc.connect("x")
    with pytest.raises(ValueError, match="dsdgen hangs"):
        tpc.connect("ds", 0.005)
    with pytest.raises(ValueError, match=">= 0"):
        tpc.connect("h", -1)
