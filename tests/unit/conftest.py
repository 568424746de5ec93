"""Fixtures the DAG -> code mapping tests share: TPC-H and TPC-DS in DuckDB at scale factor 0.01 (a
plan folds to EMPTY_RESULT on empty tables), generated once per session (0.1 s and 0.5 s)."""

import pytest

from reference_agents.dag_mapping import tpc


@pytest.fixture(scope="session")
def tpch():
    """TPC-H at scale factor 0.01, with ``tpch_queries()``; tests only read it."""
    conn = tpc.connect("h", 0.01)
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def tpcds():
    """TPC-DS at scale factor 0.01, with ``tpcds_queries()``; tests only read it."""
    conn = tpc.connect("ds", 0.01)
    yield conn
    conn.close()
