"""The code index on the real code of ibis's TPC suites (the wheel's ``backends/tests/tpc``): exact
spans of DataFrame calls and SQL clauses (line numbers read off the files by hand), what each chunk
names, that the positions CPython gives a CALL find their chunk, and repository indexing of a
directory, a zip and a tar.gz, with its refusals and its content hash."""

from __future__ import annotations

import dis
import io
import shutil
import tarfile
import types
import zipfile
from pathlib import Path

import ibis
import pytest

from reference_agents.dag_mapping.code_index.model import CodeChunk, file_hash
from reference_agents.dag_mapping.code_index.python_chunks import call_chunk_at, chunk_python
from reference_agents.dag_mapping.code_index.repository import (
    MAX_FILE_BYTES,
    ArchiveError,
    RepositoryNotFound,
    index_repository,
)
from reference_agents.dag_mapping.code_index.source_text import SourceText
from reference_agents.dag_mapping.code_index.sql_chunks import chunk_sql

TPC = Path(ibis.__file__).parent / "backends" / "tests" / "tpc"
H_PY = "h/test_queries.py"
DS_PY = "ds/test_queries.py"


def _chunks(relative: str) -> list[CodeChunk]:
    source = (TPC / relative).read_text()
    return chunk_sql(relative, source) if relative.endswith(".sql") else chunk_python(relative, source)


@pytest.fixture(scope="module")
def h_chunks() -> list[CodeChunk]:
    return _chunks(H_PY)


def _one(chunks, symbol, kind, start_line):
    found = [c for c in chunks if (c.symbol, c.kind, c.start_line) == (symbol, kind, start_line)]
    assert len(found) == 1, f"{symbol} {kind} at line {start_line}: {found}"
    return found[0]


def _span(chunk: CodeChunk) -> tuple[int, int, int, int]:
    return chunk.start_line, chunk.start_col, chunk.end_line, chunk.end_col


# Python: spans


def test_q1_calls_span_from_the_method_name_to_the_closing_paren(h_chunks):
    function = _one(h_chunks, "test_01", "function", 11)
    assert _span(function) == (11, 0, 40, 12)  # from `def` (the decorator on line 10 left out)
    assert function.text.startswith("def test_01(lineitem):") and function.text.endswith("return q")

    filter_ = _one(h_chunks, "test_01", "filter", 25)
    assert _span(filter_) == (25, 10, 25, 64)
    assert filter_.text == 'filter(t.l_shipdate <= add_date("1998-12-01", dd=-90))'

    group_by = _one(h_chunks, "test_01", "aggregate", 28)
    assert _span(group_by) == (28, 10, 28, 52)
    assert group_by.text == 'group_by(["l_returnflag", "l_linestatus"])'

    agg = _one(h_chunks, "test_01", "aggregate", 29)
    assert _span(agg) == (29, 10, 38, 5)
    assert agg.text.startswith("agg(\n        sum_qty=t.l_quantity.sum(),")
    assert agg.text.endswith("count_order=lambda t: t.count(),\n    )")

    order = _one(h_chunks, "test_01", "order", 39)
    assert _span(order) == (39, 10, 39, 52)
    assert order.text == 'order_by(["l_returnflag", "l_linestatus"])'

    assert [c.kind for c in h_chunks if c.symbol == "test_01"] == [
        "function", "filter", "aggregate", "aggregate", "order",
    ]


def test_q2_chained_joins_are_one_chunk_each_on_their_own_line(h_chunks):
    joins = [c for c in h_chunks if c.symbol == "test_02" and c.kind == "join" and c.start_line <= 55]
    assert [_span(c) for c in joins] == [(52, 13, 52, 66), (53, 9, 53, 66), (54, 9, 54, 65), (55, 9, 55, 63)]
    assert [c.text for c in joins] == [
        "join(partsupp, part.p_partkey == partsupp.ps_partkey)",
        "join(supplier, supplier.s_suppkey == partsupp.ps_suppkey)",
        "join(nation, supplier.s_nationkey == nation.n_nationkey)",
        "join(region, nation.n_regionkey == region.r_regionkey)",
    ]
    # order_by(...).limit(100) on one line: two chunks side by side
    order, limit = _one(h_chunks, "test_02", "order", 88), _one(h_chunks, "test_02", "limit", 88)
    assert (_span(order), _span(limit)) == ((88, 10, 88, 77), (88, 78, 88, 88))
    assert limit.text == "limit(100)" and limit.constants == ["100"]


def test_every_chunk_text_is_its_span_and_calls_lie_inside_their_function(h_chunks):
    source = SourceText((TPC / H_PY).read_text())
    functions = {c.symbol: c for c in h_chunks if c.kind == "function"}
    assert len(functions) == 23  # test_01..test_22 and test_all_queries_are_written
    for chunk in h_chunks:
        assert chunk.text == source.segment(*_span(chunk)[:2], *_span(chunk)[2:])
        assert chunk.content_hash == file_hash(source.source)
        owner = functions[chunk.symbol]
        assert owner.contains(chunk.start_line, chunk.start_col)
        assert (chunk.end_line, chunk.end_col) <= (owner.end_line, owner.end_col)


# Python: features


def test_q1_columns_constants_and_aggregates(h_chunks):
    filter_ = _one(h_chunks, "test_01", "filter", 25)
    assert filter_.columns == ["l_shipdate"]
    # the literal and add_date's result, which the engine folds into the plan
    assert filter_.constants == ["1998-09-02", "1998-12-01", "-90"]
    assert filter_.aggregates == []
    assert filter_.tables == ["lineitem"]  # t = lineitem

    group_by = _one(h_chunks, "test_01", "aggregate", 28)
    assert group_by.columns == ["l_returnflag", "l_linestatus"] and group_by.constants == []

    agg = _one(h_chunks, "test_01", "aggregate", 29)
    assert agg.aggregates == ["sum", "avg", "count"]  # mean -> avg, lambda t: t.count()
    assert {"l_quantity", "l_extendedprice", "l_discount", "sum_qty", "count_order"} <= set(agg.columns)


def test_names_bound_to_literals_give_their_values(h_chunks):
    q2_filter = _one(h_chunks, "test_02", "filter", 68)
    assert q2_filter.columns == ["p_size", "p_type", "r_name", "ps_supplycost"]
    assert q2_filter.constants == ["15", "%BRASS", "BRASS", "EUROPE"]  # SIZE, f"%{TYPE}", REGION
    assert q2_filter.aggregates == ["min"]

    q3_filter = _one(h_chunks, "test_03", "filter", 100)
    assert q3_filter.constants == ["BUILDING", "1995-03-15"]  # DATE = ibis.date("1995-03-15")

    q6_filter = _one(h_chunks, "test_06", "filter", 170)
    # discount_min = round(DISCOUNT - 0.01, 2); add_date(DATE, dy=1)
    assert q6_filter.constants == ["1994-01-01", "1995-01-01", "1", "0.05", "0.07", "24"]

    q16_agg = _one(h_chunks, "test_16", "aggregate", 486)
    assert q16_agg.aggregates == ["count"]  # nunique -> count distinct


def test_tables_follow_parameters_and_their_aliases(h_chunks):
    q5_joins = [c for c in h_chunks if c.symbol == "test_05" and c.kind == "join"]
    # q = customer; q = q.join(orders, ...): the first join reads customer and orders, the next only
    # the table joined in (q is then a join result)
    assert [c.tables for c in q5_joins] == [["customer", "orders"], ["lineitem"], ["supplier"], ["nation"], ["region"]]
    assert _one(h_chunks, "test_05", "function", 132).tables == [
        "customer", "orders", "lineitem", "supplier", "nation", "region",
    ]


def test_nested_def_is_qualified_and_its_column_parameters_are_not_tables():
    chunks = _chunks(DS_PY)
    items = _one(chunks, "test_83.items", "function", 4563)
    assert _span(items) == (4563, 4, 4581, 9)
    assert items.text.startswith("def items(returns, *, prefix):")
    join = _one(chunks, "test_83.items", "join", 4566)
    assert join.text == 'join(item, [(f"{prefix}_item_sk", "i_item_sk")])'
    assert join.tables == ["returns", "item"] and join.columns == ["i_item_sk"]

    sales = _one(chunks, "test_75._sales", "function", 3972)
    assert sales.tables == ["returns", "date_dim", "item", "sales"]  # not item_sk, sale_quant...
    # the outer function passes its parameters to the helper: they are tables too
    assert {"catalog_sales", "store_sales", "web_sales"} <= set(_one(chunks, "test_75", "function", 3962).tables)


def test_method_and_non_ascii_columns_are_utf8_byte_offsets():
    source = (
        "class Report:\n"
        "    def run(self, orders):\n"
        '        label = "café"\n'
        '        return orders.filter(orders.o_comment == "é").order_by("o_orderdate")\n'
    )
    chunks = chunk_python("report.py", source)
    assert [(c.symbol, c.kind) for c in chunks] == [
        ("Report.run", "function"), ("Report.run", "filter"), ("Report.run", "order"),
    ]
    filter_ = chunks[1]
    assert filter_.text == 'filter(orders.o_comment == "é")'
    assert (filter_.start_col, filter_.end_col) == (22, 54)  # "é" is 2 bytes, as in ast and co_positions
    assert filter_.constants == ["é"] and filter_.tables == ["orders"]
    assert chunks[2].columns == ["o_orderdate"] and chunks[2].constants == []


def test_string_join_and_module_join_are_not_dataframe_calls():
    source = 'import os\n\ndef f(t, parts):\n    os.path.join("a", "b")\n    ", ".join(parts)\n    return t.join(t, "k")\n'
    assert [c.text for c in chunk_python("f.py", source) if c.kind == "join"] == ['join(t, "k")']


# Python: the tracer's positions


def test_every_call_chunk_is_found_from_the_positions_cpython_gives_its_call(h_chunks):
    """Compile the real file as the tracer does; each CALL's (line, end_line, col, end_col) finds
    exactly one call chunk, and every call chunk is found."""
    path = TPC / H_PY
    code = compile(path.read_text(), str(path), "exec")
    found: dict[int, list] = {}

    def walk(code_object):
        for instruction in dis.get_instructions(code_object):
            if instruction.opname in ("CALL", "CALL_FUNCTION_EX"):
                chunk = call_chunk_at(h_chunks, H_PY, tuple(instruction.positions))
                if chunk is not None:
                    found.setdefault(id(chunk), []).append(instruction.positions)
        for constant in code_object.co_consts:
            if isinstance(constant, types.CodeType):
                walk(constant)

    walk(code)
    calls = [c for c in h_chunks if c.kind != "function"]
    assert len(calls) == 159
    assert {id(c) for c in calls} == set(found)
    assert all(len(positions) == 1 for positions in found.values())


def test_call_chunk_at_with_receiver_start_and_with_method_name_start(h_chunks):
    # t.filter(...) on one line: CPython's CALL starts at the receiver `t` (col 8)
    assert call_chunk_at(h_chunks, H_PY, (25, 25, 8, 64), "filter") is _one(h_chunks, "test_01", "filter", 25)
    # a chained .join on its own line: the CALL starts at the method name
    assert call_chunk_at(h_chunks, H_PY, (53, 53, 9, 66), "join") is _one(h_chunks, "test_02", "join", 53)
    assert call_chunk_at(h_chunks, H_PY, (53, 53, 9, 66), "filter") is None
    assert call_chunk_at(h_chunks, "other.py", (53, 53, 9, 66)) is None


# SQL


def test_tpch_q1_sql_clause_spans():
    chunks = _chunks("queries/duckdb/h/01.sql")
    assert [(c.symbol, c.kind, _span(c)) for c in chunks] == [
        ("01", "function", (1, 0, 21, 16)),
        ("01", "project", (1, 0, 11, 27)),
        ("01", "scan", (12, 0, 13, 12)),
        ("01", "filter", (14, 0, 15, 44)),
        ("01", "aggregate", (16, 0, 18, 16)),
        ("01", "order", (19, 0, 21, 16)),
    ]
    by_kind = {c.kind: c for c in chunks}
    assert by_kind["filter"].text == "WHERE\n    l_shipdate <= CAST('1998-09-02' AS date)"
    assert by_kind["filter"].columns == ["l_shipdate"] and by_kind["filter"].constants == ["1998-09-02"]
    assert by_kind["scan"].text == "FROM\n    lineitem" and by_kind["scan"].tables == ["lineitem"]
    assert by_kind["aggregate"].text == "GROUP BY\n    l_returnflag,\n    l_linestatus"
    assert by_kind["aggregate"].aggregates == ["sum", "avg", "count"]
    assert by_kind["function"].text.endswith("l_linestatus")  # the ';' is not part of the statement


def test_tpch_q15_subqueries_have_their_own_clauses():
    chunks = _chunks("queries/duckdb/h/15.sql")
    spans = [(c.kind, c.start_line, c.end_line) for c in chunks]
    # the derived table revenue0 (lines 9-19) joined by comma, its GROUP BY, and the scalar
    # subquery's max() with its own derived table revenue1 (lines 25-35)
    assert ("join", 9, 19) in spans
    assert [s for s in spans if s[0] == "aggregate"] == [("aggregate", 18, 19), ("aggregate", 23, 24), ("aggregate", 34, 35)]
    outer_where = _one(chunks, "15", "filter", 20)
    assert outer_where.end_line == 35
    assert outer_where.columns == ["s_suppkey", "supplier_no", "total_revenue"]  # not the subquery's
    inner_where = _one(chunks, "15", "filter", 15)
    assert inner_where.constants == ["1996-01-01", "1996-04-01"]


def test_tpcds_q1_cte_chunks_carry_the_cte_name():
    chunks = _chunks("queries/duckdb/ds/01.sql")
    cte = _one(chunks, "01.customer_total_return", "function", 1)
    assert _span(cte) == (1, 5, 10, 24) and cte.text.startswith("customer_total_return AS\n  (SELECT")
    comma_join = _one(chunks, "01.customer_total_return", "join", 6)
    assert comma_join.text == "date_dim" and comma_join.tables == ["date_dim"]
    group = _one(chunks, "01.customer_total_return", "aggregate", 9)
    assert group.aggregates == ["sum"] and group.columns == ["sr_customer_sk", "sr_store_sk", "sr_return_amt"]
    # the outer query reads the CTE: not a base table
    assert _one(chunks, "01", "scan", 12).tables == []
    assert _one(chunks, "01", "limit", 23).text == "LIMIT 100"


def test_tpcds_union_and_window_spans():
    union = _one(_chunks("queries/duckdb/ds/05.sql"), "05.ssr", "union", 15)
    assert (union.start_col, union.end_line) == (6, 21)
    assert union.text.startswith("UNION ALL SELECT sr_store_sk AS store_sk,")
    assert union.text.endswith("FROM store_returns")
    window = _one(_chunks("queries/duckdb/ds/12.sql"), "12", "window", 7)
    assert window.text == "sum(sum(ws_ext_sales_price)) OVER (PARTITION BY i_class)"


def test_every_tpc_sql_file_is_one_statement_chunk_with_clauses_inside():
    paths = sorted((TPC / "queries").rglob("*.sql"))
    assert len(paths) == 125  # duckdb: 22 TPC-H + 99 TPC-DS; clickhouse: 4
    for path in paths:
        source = path.read_text()
        chunks = _chunks(path.relative_to(TPC).as_posix())
        statement = chunks[0]
        assert (statement.kind, statement.symbol) == ("function", path.stem), path
        assert statement.text == source.strip().rstrip(";").strip(), path  # some start with a blank line
        assert all(statement.contains(c.start_line, c.start_col) for c in chunks), path


def test_unparsable_sql_names_the_file():
    with pytest.raises(ValueError, match="bad.sql"):
        chunk_sql("bad.sql", "SELECT FROM WHERE (")


# Repository


def _make_repository(root: Path) -> Path:
    (root / "h").mkdir(parents=True)
    (root / "queries").mkdir()
    shutil.copy(TPC / H_PY, root / "h" / "test_queries.py")
    shutil.copy(TPC / "queries/duckdb/h/01.sql", root / "queries" / "01.sql")
    (root / "README.md").write_text("not indexed")
    return root


def test_directory_index(tmp_path):
    index = index_repository(_make_repository(tmp_path / "repo"))
    assert sorted(index.file_hashes) == ["h/test_queries.py", "queries/01.sql"]
    assert index.skipped == []
    assert {c.path for c in index.chunks} == {"h/test_queries.py", "queries/01.sql"}
    assert len(index.chunks) == len(_chunks(H_PY)) + len(_chunks("queries/duckdb/h/01.sql"))


def test_zip_and_tar_gz_give_the_same_index_as_the_directory(tmp_path):
    repo = _make_repository(tmp_path / "repo-main")
    zip_path = tmp_path / "repo.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        for file in sorted(repo.rglob("*")):
            archive.write(file, file.relative_to(tmp_path).as_posix())
    tar_path = tmp_path / "repo.tar.gz"
    with tarfile.open(tar_path, "w:gz") as archive:
        archive.add(repo, arcname="repo-main")

    expected = index_repository(repo)
    for archive_path in (zip_path, tar_path):
        index = index_repository(archive_path)
        # the single top directory repo-main/ is stripped: paths are repository-relative
        assert [(c.path, c.symbol, c.kind, _span(c)) for c in index.chunks] == [
            (c.path, c.symbol, c.kind, _span(c)) for c in expected.chunks
        ]
        assert index.content_hash == expected.content_hash


def test_missing_repository_and_non_archive_file(tmp_path):
    with pytest.raises(RepositoryNotFound, match="nowhere"):
        index_repository(tmp_path / "nowhere")
    fake = tmp_path / "repo.zip"
    fake.write_text("this is not a zip")
    with pytest.raises(ArchiveError, match="repo.zip"):
        index_repository(fake)


def test_archives_with_members_outside_the_repository_are_refused(tmp_path):
    zip_path = tmp_path / "evil.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr("repo/ok.py", "x = 1\n")
        archive.writestr("../evil.py", "x = 1\n")
    with pytest.raises(ArchiveError, match=r"'\.\./evil\.py'"):
        index_repository(zip_path)

    tar_path = tmp_path / "evil.tar.gz"
    with tarfile.open(tar_path, "w:gz") as archive:
        payload = b"x = 1\n"
        member = tarfile.TarInfo("/etc/evil.py")
        member.size = len(payload)
        archive.addfile(member, io.BytesIO(payload))
    with pytest.raises(ArchiveError, match="/etc/evil.py"):
        index_repository(tar_path)


def test_large_unparsable_and_linked_files_are_skipped(tmp_path):
    repo = _make_repository(tmp_path / "repo")
    (repo / "big.py").write_text("x = 1\n" * (MAX_FILE_BYTES // 6 + 1))
    (repo / "broken.py").write_text("def f(:\n")
    (repo / "broken.sql").write_text("SELECT FROM WHERE (")
    (repo / "link.py").symlink_to(repo / "h" / "test_queries.py")
    index = index_repository(repo)
    reasons = {s.path: s.reason for s in index.skipped}
    assert sorted(reasons) == ["big.py", "broken.py", "broken.sql", "link.py"]
    assert reasons["big.py"].startswith("larger than 1048576 bytes")
    assert reasons["broken.py"].startswith("not parsable") and reasons["link.py"] == "symbolic link"
    assert {c.path for c in index.chunks} == {"h/test_queries.py", "queries/01.sql"}


def test_content_hash_is_stable_and_changes_with_a_file(tmp_path):
    repo = _make_repository(tmp_path / "repo")
    first, again = index_repository(repo), index_repository(repo)
    assert first.content_hash == again.content_hash and len(first.content_hash) == 64
    sql = repo / "queries" / "01.sql"
    sql.write_text(sql.read_text().replace("l_shipdate <=", "l_shipdate <"))
    changed = index_repository(repo)
    assert changed.content_hash != first.content_hash
    assert changed.file_hashes["h/test_queries.py"] == first.file_hashes["h/test_queries.py"]
    assert changed.file_hashes["queries/01.sql"] != first.file_hashes["queries/01.sql"]
