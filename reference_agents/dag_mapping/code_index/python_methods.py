"""The DataFrame API vocabulary the Python chunker knows (ibis names, which pandas/Polars/PySpark
share for the most part): which methods are plan operations, aggregates, or take column names."""

from __future__ import annotations

JOIN_METHODS = frozenset(
    {"join", "inner_join", "left_join", "right_join", "outer_join", "semi_join", "anti_join",
     "cross_join", "asof_join"}
)

# DataFrame method -> chunk kind. group_by(...).agg(...) is two chunks, both "aggregate": the
# group_by call (keys) and the agg call (aggregate functions).
METHOD_KINDS = {
    **dict.fromkeys(["filter", "where", "having", "drop_null"], "filter"),
    **dict.fromkeys(JOIN_METHODS, "join"),
    **dict.fromkeys(["group_by", "aggregate", "agg"], "aggregate"),
    **dict.fromkeys(["order_by", "sort_by"], "order"),
    **dict.fromkeys(["limit", "head"], "limit"),
    **dict.fromkeys(["select", "mutate", "rename", "drop", "relocate", "fill_null"], "project"),
    "distinct": "distinct",
    **dict.fromkeys(["union", "intersect", "difference"], "union"),
    "over": "window",
    "table": "scan",
}

# x = t.view() (a self-join alias) still reads table t.
TABLE_ALIAS_METHODS = frozenset({"view", "alias"})
# con.table("orders") / ibis.table(schema, name="orders") reads table orders.
SCAN_METHODS = frozenset({"table"})

# Aggregate methods -> the SQL aggregate they compile to (ibis: mean -> avg, nunique -> count distinct).
AGGREGATES = {
    "sum": "sum",
    "mean": "avg",
    "avg": "avg",
    "min": "min",
    "max": "max",
    "count": "count",
    "nunique": "count",
    "approx_nunique": "count",
    "std": "stddev",
    "var": "variance",
    "first": "first",
    "last": "last",
    "arbitrary": "first",
    "median": "median",
    "mode": "mode",
}

# Methods/functions whose string arguments (also inside lists and tuples) are column names, not
# constants: t.group_by(["a"]), t.order_by("a"), ibis.desc("a"), expr.name("alias"),
# t.join(s, [("a", "b")]), t.relocate("a", after="b").
COLUMN_NAME_CALLS = JOIN_METHODS | {
    "group_by", "order_by", "sort_by", "select", "drop", "relocate", "distinct", "asc", "desc",
    "name", "cols", "rename",
}
# Calls whose keyword names are the output columns they define: t.agg(revenue=...).
OUTPUT_NAME_CALLS = frozenset({"agg", "aggregate", "mutate", "select", "group_by", "rename"})
# Calls whose string arguments are type names (x.cast("decimal(7,2)")), and the keyword that
# names a type anywhere (ibis.literal(0, type="int8")): neither are constants.
TYPE_CALLS = frozenset({"cast", "try_cast"})
TYPE_KEYWORD = "type"
