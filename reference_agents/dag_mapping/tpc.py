"""TPC-H and TPC-DS in an in-memory DuckDB: data made by the tpch/tpcds extensions, the suites' own
query texts, and ``EXPLAIN (FORMAT JSON)`` plans of them.

The extensions are loaded by file path from the ``duckdb-extension-tpch``/``duckdb-extension-tpcds``
wheels, with DuckDB's auto-install and auto-load turned off, so nothing is downloaded."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import duckdb

# suite -> (wheel package, extension name, data generator, query table function)
_SUITES = {
    "h": ("duckdb_extension_tpch", "tpch", "dbgen", "tpch_queries"),
    "ds": ("duckdb_extension_tpcds", "tpcds", "dsdgen", "tpcds_queries"),
}


def _suite(suite: str) -> tuple[str, str, str, str]:
    try:
        return _SUITES[suite]
    except KeyError:
        raise ValueError(f"unknown TPC suite {suite!r}; known: {', '.join(_SUITES)}") from None


def extension_path(suite: str) -> Path:
    """Path of the suite's extension file inside its wheel
    (``<package>/extensions/v<duckdb version>/<name>.duckdb_extension``).

    Raises ``ValueError`` for a suite other than ``"h"``/``"ds"`` and ``FileNotFoundError`` when the
    installed wheel has no extension built for the installed DuckDB version."""
    package, name, _, _ = _suite(suite)
    root = Path(importlib.import_module(package).__file__).parent
    path = root / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not path.is_file():
        raise FileNotFoundError(f"{path} missing: {package} does not match duckdb {duckdb.__version__}")
    return path


def connect(suite: str, scale_factor: float = 0.01) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB holding the suite's tables at ``scale_factor`` (``"h"``: TPC-H via
    ``dbgen``, ``"ds"``: TPC-DS via ``dsdgen``). At 0.01, TPC-H takes ~0.1 s and TPC-DS ~0.5 s.

    ``scale_factor`` 0 makes empty tables, whose plans the optimiser folds to ``EMPTY_RESULT``.
    Raises ``ValueError`` for an unknown suite, a negative scale factor, or a TPC-DS scale factor
    between 0 and 0.01 (``dsdgen`` does not return at those: measured at 0.005 and 0.001)."""
    _, name, generator, _ = _suite(suite)
    if scale_factor < 0:
        raise ValueError(f"scale_factor must be >= 0, got {scale_factor}")
    if suite == "ds" and 0 < scale_factor < 0.01:
        raise ValueError(f"TPC-DS scale_factor must be 0 or >= 0.01 (dsdgen hangs below), got {scale_factor}")
    conn = duckdb.connect(
        ":memory:", config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    try:
        conn.execute(f"LOAD '{extension_path(suite)}'")
        conn.execute(f"CALL {generator}(sf={float(scale_factor)!r})")
    except BaseException:
        conn.close()
        raise
    return conn


def queries(conn: duckdb.DuckDBPyConnection, suite: str) -> dict[int, str]:
    """The suite's query texts as the extension ships them: ``{query number: SQL}`` (TPC-H 1..22,
    TPC-DS 1..99). ``conn`` must have the suite's extension loaded (as :func:`connect` does)."""
    _, _, _, function = _suite(suite)
    return {int(nr): sql for nr, sql in conn.execute(f"SELECT query_nr, query FROM {function}()").fetchall()}


def explain_json(conn: duckdb.DuckDBPyConnection, sql: str) -> list | dict:
    """DuckDB's physical plan of ``sql`` from ``EXPLAIN (FORMAT JSON)``, parsed: a list holding the root
    operator (``{"name", "children", "extra_info"}``). Raises ``duckdb.Error`` when DuckDB cannot
    plan ``sql`` and ``ValueError`` when the answer has no physical plan."""
    rows = conn.execute(f"EXPLAIN (FORMAT JSON) {sql}").fetchall()
    for key, text in rows:
        if key == "physical_plan":
            return json.loads(text)
    raise ValueError(f"EXPLAIN returned no physical_plan row (got {[key for key, _ in rows]})")
