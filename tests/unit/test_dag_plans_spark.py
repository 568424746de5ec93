"""Spark physical plan text (real plan-stability golden files of Apache Spark's TPC-H suite, see
fixtures/spark_plans/PROVENANCE.md) read into PlanNode trees, and the plan format registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from reference_agents.dag_mapping.plans.model import OperatorKind, PlanFormatError, PlanNode
from reference_agents.dag_mapping.plans.registry import PLAN_FORMATS, UnknownPlanFormat, parse_plan
from reference_agents.dag_mapping.plans.spark_text import parse_spark_text

FIXTURES = Path(__file__).parent / "fixtures" / "spark_plans"
K = OperatorKind


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def shape(root: PlanNode, depth: int = 0) -> list[tuple[int, str]]:
    """(depth, operator) of every node, pre-order."""
    return [(depth, root.operator)] + [item for child in root.children for item in shape(child, depth + 1)]


def only(root: PlanNode, operator: str) -> list[PlanNode]:
    return [n for n in root.walk() if n.operator == operator]


def test_simplified_q1_tree_shape_checked_by_hand():
    root = parse_spark_text(fixture("tpch_q1_simplified.txt"))
    assert shape(root) == [
        (0, "WholeStageCodegen"),
        (1, "Sort"),
        (2, "InputAdapter"),
        (3, "Exchange"),
        (4, "WholeStageCodegen"),
        (5, "HashAggregate"),
        (6, "InputAdapter"),
        (7, "Exchange"),
        (8, "WholeStageCodegen"),
        (9, "HashAggregate"),
        (10, "Project"),
        (11, "Filter"),
        (12, "ColumnarToRow"),
        (13, "InputAdapter"),
        (14, "Scan"),
    ]
    assert [n.node_id for n in root.walk()] == [f"n{i}" for i in range(15)]
    assert [n.kind for n in root.walk()] == [
        K.OTHER, K.ORDER, K.OTHER, K.OTHER, K.OTHER, K.AGGREGATE, K.OTHER, K.OTHER, K.OTHER,
        K.AGGREGATE, K.PROJECT, K.FILTER, K.OTHER, K.OTHER, K.SCAN,
    ]
    scan = list(root.walk())[14]
    assert (scan.tables, scan.detail["format"]) == (["lineitem"], "parquet")
    assert scan.columns == [
        "l_quantity", "l_extendedprice", "l_discount", "l_tax", "l_returnflag", "l_linestatus", "l_shipdate",
    ]
    final_aggregate = list(root.walk())[5]
    assert final_aggregate.aggregates == ["sum", "avg", "count"]
    # aggregation buffers (sum, isEmpty, count) are not columns; the output aliases are
    assert "isempty" not in final_aggregate.columns and "sum_qty" in final_aggregate.columns
    assert list(root.walk())[11].columns == ["l_shipdate"]
    assert root.detail["codegen_stage"] == 3 and list(root.walk())[3].detail["reuse_id"] == "#1"
    # wrappers carry nothing to match against
    assert all(not (n.columns or n.constants) for n in root.walk() if n.kind is K.OTHER)


def test_formatted_q1_filter_constant_pushed_filters_and_aggregates():
    root = parse_spark_text(fixture("tpch_q1_explain.txt"))
    assert shape(root) == [
        (0, "Sort"), (1, "Exchange"), (2, "HashAggregate"), (3, "Exchange"), (4, "HashAggregate"),
        (5, "Project"), (6, "Filter"), (7, "ColumnarToRow"), (8, "Scan"),
    ]
    assert [n.detail["operator_id"] for n in root.walk()] == [9, 8, 7, 6, 5, 4, 3, 2, 1]
    sort, _, final, _, partial, project, filter_, _, scan = root.walk()
    assert (sort.kind, sort.columns, sort.constants) == (K.ORDER, ["l_returnflag", "l_linestatus"], [])
    assert (filter_.columns, filter_.constants) == (["l_shipdate"], ["1998-09-02"])
    assert filter_.detail["Condition"] == "(isnotnull(l_shipdate#7) AND (l_shipdate#7 <= 1998-09-02))"
    assert scan.tables == ["lineitem"] and scan.constants == ["1998-09-02"]
    assert scan.detail["PushedFilters"] == "[IsNotNull(l_shipdate), LessThanOrEqual(l_shipdate,1998-09-02)]"
    # partial_sum/partial_avg/partial_count and the final phase both read as sum, avg, count
    assert partial.aggregates == final.aggregates == ["sum", "avg", "count"]
    assert final.columns == ["l_returnflag", "l_linestatus", "l_quantity", "l_extendedprice", "l_discount", "l_tax"]
    assert final.constants == ["1"]  # (1 - l_discount), (1 + l_tax); count(1) is count(*)
    assert project.kind is K.PROJECT and "l_shipdate" not in project.columns
    assert sort.detail["codegen_stage"] is True and "codegen_stage" not in root.children[0].detail


def test_formatted_q3_joins_scans_and_top_n():
    root = parse_spark_text(fixture("tpch_q3_explain.txt"))
    top = root
    assert (top.operator, top.kind, top.constants) == ("TakeOrderedAndProject", K.TOP_N, ["10"])
    assert top.columns == ["revenue", "o_orderdate", "l_orderkey", "o_shippriority"]
    joins = [n for n in root.walk() if n.kind is K.JOIN]
    assert [(j.operator, j.detail["join_type"], j.columns) for j in joins] == [
        ("BroadcastHashJoin", "Inner", ["o_orderkey", "l_orderkey"]),
        ("BroadcastHashJoin", "Inner", ["c_custkey", "o_custkey"]),
    ]
    assert [len(j.children) for j in joins] == [2, 2]
    # the build side arrives through a BroadcastExchange
    assert [j.children[1].operator for j in joins] == ["BroadcastExchange", "BroadcastExchange"]
    scans = {n.tables[0]: n for n in root.walk() if n.kind is K.SCAN}
    assert sorted(scans) == ["customer", "lineitem", "orders"]
    assert scans["customer"].constants == ["BUILDING"]
    assert scans["orders"].constants == scans["lineitem"].constants == ["1995-03-15"]
    filters = {n.detail["operator_id"]: n for n in root.walk() if n.kind is K.FILTER}
    assert filters[3].constants == ["BUILDING"] and filters[3].columns == ["c_mktsegment", "c_custkey"]
    (final,) = [n for n in root.walk() if n.detail.get("operator_id") == 20]
    assert (final.aggregates, final.columns) == (
        ["sum"], ["l_orderkey", "o_orderdate", "o_shippriority", "l_extendedprice", "l_discount"]
    )


def test_formatted_q22_subquery_hangs_under_its_hosting_filter():
    root = parse_spark_text(fixture("tpch_q22_explain.txt"))
    (filter_,) = [n for n in root.walk() if n.detail.get("operator_id") == 3]
    assert [c.operator for c in filter_.children] == ["Subquery", "ColumnarToRow"]
    subquery = filter_.children[0]
    assert subquery.kind is K.OTHER
    assert subquery.detail["hosting_expression"] == "Subquery scalar-subquery#4, [id=#5]"
    assert shape(subquery.children[0]) == [
        (0, "HashAggregate"), (1, "Exchange"), (2, "HashAggregate"), (3, "Project"), (4, "Filter"),
        (5, "ColumnarToRow"), (6, "Scan"),
    ]
    assert subquery.children[0].aggregates == ["avg"]
    # substring(c_phone, 1, 2) IN (13,31,23,29,30,18,17)
    assert filter_.constants == ["1", "2", "13", "31", "23", "29", "30", "18", "17"]
    (join,) = [n for n in root.walk() if n.kind is K.JOIN]
    assert join.detail["join_type"] == "LeftAnti"
    ids = [n.node_id for n in root.walk()]
    assert ids == [f"n{i}" for i in range(21)]


def test_simplified_q22_keeps_subqueries_and_reuse_ids():
    root = parse_spark_text(fixture("tpch_q22_simplified.txt"))
    (filter_,) = [n for n in only(root, "Filter") if n.children[0].operator == "ReusedSubquery"]
    assert filter_.children[0].detail["reuse_id"] == "#1"
    (subquery,) = only(root, "Subquery")
    assert subquery.detail["reuse_id"] == "#1"
    assert [n.operator for n in subquery.children[0].walk()][:2] == ["WholeStageCodegen", "HashAggregate"]
    assert [n.tables for n in only(root, "Scan")] == [["customer"], ["customer"], ["orders"]]
    assert sorted({a for n in root.walk() for a in n.aggregates}) == ["avg", "count", "sum"]


def test_default_q1_with_adaptive_plan_checked_by_hand():
    root = parse_spark_text(fixture("tpch_q1_default_aqe.txt"))
    assert shape(root) == [
        (0, "AdaptiveSparkPlan"), (1, "Sort"), (2, "Exchange"), (3, "HashAggregate"), (4, "Exchange"),
        (5, "HashAggregate"), (6, "Project"), (7, "Filter"), (8, "FileScan"),
    ]
    adaptive, sort, exchange, final, _, partial, _, filter_, scan = root.walk()
    assert adaptive.kind is K.OTHER and adaptive.detail["arguments"] == "isFinalPlan=false"
    assert exchange.kind is K.OTHER and exchange.columns == [] and exchange.constants == []
    assert (sort.columns, sort.constants) == (["l_returnflag", "l_linestatus"], [])  # ", true, 0" are flags
    assert partial.aggregates == final.aggregates == ["sum", "avg", "count"]
    assert final.columns == ["l_returnflag", "l_linestatus", "l_quantity", "l_extendedprice", "l_discount", "l_tax"]
    assert (filter_.columns, filter_.constants) == (["l_shipdate"], ["1998-09-02"])
    assert (scan.tables, scan.detail["format"], scan.detail["Batched"]) == (["lineitem"], "parquet", "true")
    assert scan.columns == [
        "l_quantity", "l_extendedprice", "l_discount", "l_tax", "l_returnflag", "l_linestatus", "l_shipdate",
    ]
    assert scan.constants == ["1998-09-02"]
    assert scan.detail["PushedFilters"] == "[IsNotNull(l_shipdate), LessThanOrEqual(l_shipdate,1998-09-02)]"


def test_default_q3_codegen_stages_joins_and_truncated_scan_metadata():
    root = parse_spark_text(fixture("tpch_q3_default.txt"))
    assert (root.operator, root.kind, root.constants) == ("TakeOrderedAndProject", K.TOP_N, ["10"])
    assert root.columns == ["revenue", "o_orderdate", "l_orderkey", "o_shippriority"]
    assert [n.detail.get("codegen_stage") for n in root.walk()][:5] == [None, 4, None, 3, 3]
    joins = [n for n in root.walk() if n.kind is K.JOIN]
    assert [(j.detail["join_type"], j.columns) for j in joins] == [
        ("Inner", ["o_orderkey", "l_orderkey"]),
        ("Inner", ["c_custkey", "o_custkey"]),
    ]
    assert joins[1].detail["arguments"] == "[c_custkey#114L], [o_custkey#123L], Inner, BuildLeft, false, false"
    scans = {n.tables[0]: n for n in root.walk() if n.kind is K.SCAN}
    # Spark cut the orders scan's PushedFilters at "IsNotNull(o_orde...": the cut item is dropped
    assert scans["orders"].detail["PushedFilters"].endswith("IsNotNull(o_orde...")
    assert scans["orders"].constants == ["1995-03-15"]
    assert "o_orde" not in scans["orders"].columns
    assert scans["customer"].constants == ["BUILDING"]


def test_default_q22_subqueries_are_inner_children():
    root = parse_spark_text(fixture("tpch_q22_default_aqe.txt"))
    (join,) = [n for n in root.walk() if n.kind is K.JOIN]
    assert join.detail["join_type"] == "LeftAnti"
    filter_, broadcast = join.children
    # "Subquery subquery#97" is printed six columns deeper, under the filter that uses it
    assert [c.operator for c in filter_.children] == ["Subquery", "FileScan"]
    assert filter_.columns == ["c_acctbal", "c_phone"]  # not the subquery placeholder
    subquery = filter_.children[0]
    assert shape(subquery)[:3] == [(0, "Subquery"), (1, "AdaptiveSparkPlan"), (2, "HashAggregate")]
    assert subquery.children[0].children[0].aggregates == ["avg"]
    assert [n.tables for n in broadcast.walk() if n.kind is K.SCAN] == [["orders"]]


def test_default_final_adaptive_plan_keeps_the_final_plan_only():
    root = parse_spark_text(fixture("tpch_q3_default_final_aqe.txt"))
    assert root.detail["arguments"] == "isFinalPlan=true"
    assert [c.operator for c in root.children] == ["Final Plan"]  # "== Initial Plan ==" dropped
    final = root.children[0]
    assert shape(final)[:8] == [
        (0, "Final Plan"), (1, "ResultQueryStage"), (2, "TakeOrderedAndProject"), (3, "HashAggregate"),
        (4, "AQEShuffleRead"), (5, "ShuffleQueryStage"), (6, "Exchange"), (7, "HashAggregate"),
    ]
    assert len([n for n in root.walk() if n.kind is K.SCAN]) == 3
    # the same operators, with the same facts, as the plan Spark printed before running it
    before = parse_spark_text(fixture("tpch_q3_default.txt"))

    def facts(plan):
        return [(n.kind, n.tables, n.columns, n.constants, n.aggregates) for n in plan.walk() if n.kind is not K.OTHER]

    assert facts(root) == facts(before)


def test_formatted_final_adaptive_plan_with_subquery_sections():
    root = parse_spark_text(fixture("tpch_q22_formatted_final_aqe.txt"))
    assert [c.operator for c in root.children] == ["Final Plan"]
    # "AQEShuffleRead (17), coalesced": the id is not always last on the line
    (read,) = [n for n in root.walk() if n.detail.get("operator_id") == 17]
    assert (read.operator, read.detail["stage"]) == ("AQEShuffleRead", "coalesced")
    (filter_,) = [n for n in root.walk() if n.detail.get("operator_id") == 3]
    subquery = filter_.children[0]
    assert subquery.operator == "Subquery"
    # the subquery is itself an adaptive plan whose initial section is dropped too
    assert shape(subquery)[:5] == [
        (0, "Subquery"), (1, "AdaptiveSparkPlan"), (2, "Final Plan"), (3, "ResultQueryStage"), (4, "HashAggregate"),
    ]
    assert "Initial Plan" not in {n.operator for n in root.walk()}
    # "Subquery:2 Hosting operator id = 1 ... ReusedSubquery": no tree, a leaf under the scan
    (scan,) = [n for n in root.walk() if n.detail.get("operator_id") == 1]
    assert [(c.operator, c.children) for c in scan.children] == [("ReusedSubquery", [])]
    # operator 4 is printed in both sections; facts come from its one detail block
    assert [n.tables for n in root.walk() if n.kind is K.SCAN] == [["customer"], ["customer"], ["orders"]]


def test_default_window_union_and_sort_merge_join_of_tpcds():
    q98 = parse_spark_text(fixture("tpcds_q98_default_aqe.txt"))
    (window,) = [n for n in q98.walk() if n.kind is K.WINDOW]
    # sum(sum(ss_ext_sales_price)) OVER (PARTITION BY i_class); _w0/_we0 are Spark's own names
    assert (window.operator, window.aggregates, window.columns) == ("Window", ["sum"], ["i_class"])
    # the top Project computes revenueratio = _w0 * 100.0000 / _we0
    project = next(n for n in q98.walk() if n.kind is K.PROJECT)
    assert project.constants == ["100.0000"] and "itemrevenue" in project.columns
    filters = {n.columns[0]: n for n in q98.walk() if n.kind is K.FILTER}
    assert filters["i_category"].constants == ["Sports", "Books", "Home"]
    assert filters["d_date"].constants == ["1999-02-22", "1999-03-24"]

    q2 = parse_spark_text(fixture("tpcds_q2_default_aqe.txt"))
    unions = [n for n in q2.walk() if n.kind is K.UNION]
    assert len(unions) == 2
    assert [[s.tables[0] for s in u.walk() if s.kind is K.SCAN] for u in unions] == [["web_sales", "catalog_sales"]] * 2
    (merge,) = [n for n in q2.walk() if n.operator == "SortMergeJoin"]
    assert (merge.kind, merge.detail["join_type"], merge.columns, merge.constants) == (
        K.JOIN, "Inner", ["d_week_seq1", "d_week_seq2"], ["53"]
    )
    day_names = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
    assert all(n.constants == day_names for n in q2.walk() if n.kind is K.AGGREGATE)


def test_same_query_reads_alike_in_all_layouts():
    def kinds(root):
        return [n.kind for n in root.walk() if n.kind is not K.OTHER]

    q1 = [parse_spark_text(fixture(f"tpch_q1_{layout}.txt")) for layout in ("simplified", "explain", "default_aqe")]
    assert kinds(q1[0]) == kinds(q1[1]) == kinds(q1[2])
    scans = [[n for n in r.walk() if n.kind is K.SCAN][0] for r in q1]
    assert scans[0].columns == scans[1].columns == scans[2].columns
    assert scans[0].tables == scans[1].tables == scans[2].tables == ["lineitem"]
    # Spark 4 (default layout) and the golden file (formatted) plan q3 alike, up to wrappers
    q3 = [parse_spark_text(fixture(name)) for name in ("tpch_q3_explain.txt", "tpch_q3_default.txt")]
    assert kinds(q3[0]) == kinds(q3[1])

    def facts(root):
        return [(n.kind, n.tables, n.columns, n.constants) for n in root.walk() if n.kind in (K.SCAN, K.FILTER)]

    assert facts(q3[0]) == facts(q3[1])


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "no operator lines"),
        ("  \n\n", "no operator lines"),
        ("== Physical Plan ==\n", "no operator lines"),
        ("Sort [a]\n   Project [a]\n", "bad indentation at line 2: column 3 is not a multiple of 2"),
        ("Sort [a]\n    Project [a]\n", "bad indentation at line 2: 4 columns deeper"),
        ("Sort [a]\nProject [a]\n", "a second root 'Project [a]'"),
        ("== Physical Plan ==\n*(1) Project [a#1]\n+- Filter (a#1 > 1)\n     +- Scan x\n", "line 4: column 5"),
        ("[a, b]\n", "line 1 has no operator name"),
        ("this is no plan", "line 1 has no operator name: 'this is no plan'"),
        ("Foo\n+- Bar [a]\n", "no Spark operator in the text (known: "),
    ],
)
def test_malformed_text_raises_plan_format_error(text, problem):
    with pytest.raises(PlanFormatError, match="^spark_text: ") as caught:
        parse_spark_text(text)
    assert problem in str(caught.value)


def test_malformed_real_plans_raise_plan_format_error():
    shifted = fixture("tpch_q1_simplified.txt").replace("\n      Exchange", "\n       Exchange", 1)
    with pytest.raises(PlanFormatError, match="spark_text: bad indentation at line 4: column 7"):
        parse_spark_text(shifted)
    orphan = fixture("tpch_q22_explain.txt").replace("Hosting operator id = 3 ", "Hosting operator id = 99 ")
    with pytest.raises(PlanFormatError, match="spark_text: subquery hosted by operator id 99"):
        parse_spark_text(orphan)
    with pytest.raises(PlanFormatError, match="spark_text: expected plan text, got bytes"):
        parse_spark_text(fixture("tpch_q1_explain.txt").encode())


def test_registry_reads_each_format_and_names_the_known_ones():
    assert sorted(PLAN_FORMATS) == ["duckdb_json", "spark_text"]
    text = fixture("tpch_q3_explain.txt")
    assert parse_plan("spark_text", text) == parse_spark_text(text)
    with pytest.raises(UnknownPlanFormat) as caught:
        parse_plan("postgres_json", "{}")
    assert str(caught.value) == "unknown plan format 'postgres_json'; known formats: duckdb_json, spark_text"
    assert isinstance(caught.value, PlanFormatError)
    with pytest.raises(PlanFormatError, match="^duckdb_json: not JSON"):
        parse_plan("duckdb_json", text)
