"""The ground truth of a whole TPC suite: trace every query, EXPLAIN it on DuckDB, match; cached
as JSON under a temp directory (never the repository), keyed by everything it depends on."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import duckdb
import ibis

from reference_agents.dag_mapping import tpc
from reference_agents.dag_mapping.plans.duckdb_json import parse_duckdb_json

from .match import match_plan
from .model import GroundTruth
from .queries import query_file, tpc_schemas
from .store import ground_truth_from_dict, ground_truth_to_dict
from .trace import trace_suite

DEFAULT_CACHE_DIR = Path(tempfile.gettempdir()) / "dag_mapping" / "ground_truth"
"""Where :func:`build_suite` caches unless told otherwise."""

# The code whose output the cache holds: a change to any of it makes a new cache key.
_SOURCES = [
    *sorted(Path(__file__).parent.glob("*.py")),
    *sorted((Path(__file__).parent.parent / "plans").glob("*.py")),
    Path(tpc.__file__),
]


@dataclass
class SuiteGroundTruth:
    """A suite's ground truth: ``queries`` in query id order, and ``failures`` (query id ->
    message) for the queries that failed to run, compile or EXPLAIN (they have no entry in
    ``queries``)."""

    suite: str
    scale_factor: float
    queries: list[GroundTruth]
    failures: dict[int, str] = field(default_factory=dict)


@dataclass
class Coverage:
    """How many plan nodes got a truth: ``nodes``/``with_truth``/``with_alternatives`` in total,
    and ``by_kind`` kind -> (nodes, with truth)."""

    nodes: int
    with_truth: int
    with_alternatives: int
    by_kind: dict[str, tuple[int, int]]


def ground_truth(
    suite: str, *, scale_factor: float = 0.01, cache_dir: str | Path | None = None
) -> list[GroundTruth]:
    """The ground truth of every query of ``suite`` ("h" or "ds") that runs: see
    :func:`build_suite`, which also reports the ones that do not."""
    return build_suite(suite, scale_factor=scale_factor, cache_dir=cache_dir).queries


def build_suite(
    suite: str, *, scale_factor: float = 0.01, cache_dir: str | Path | None = None
) -> SuiteGroundTruth:
    """Build (or load from ``cache_dir``, default :data:`DEFAULT_CACHE_DIR`) the ground truth of
    ``suite`` with DuckDB plans at ``scale_factor``. The cache file name carries a hash of the
    suite, scale factor, ibis and DuckDB versions, the query file and the code that builds it.
    Raises QueryLoadError for an unknown suite."""
    name = f"{suite}-sf{scale_factor}-{_cache_key(suite, scale_factor)}.json"
    path = Path(cache_dir or DEFAULT_CACHE_DIR) / name
    if path.exists():
        return _load(path)
    built = _build(suite, scale_factor)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole then renamed, so a concurrent reader never sees half a file.
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as tmp:
        json.dump(_dump(built), tmp)
    os.replace(tmp.name, path)
    return built


def coverage(truths: list[GroundTruth]) -> Coverage:
    """Counts of plan nodes with and without a truth over ``truths``."""
    nodes: Counter = Counter()
    matched: Counter = Counter()
    with_alternatives = 0
    for truth in truths:
        for node in truth.plan.walk():
            nodes[node.kind.value] += 1
            if (found := truth.truth.get(node.node_id)) is not None:
                matched[node.kind.value] += 1
                with_alternatives += bool(found.alternatives)
    return Coverage(
        nodes=sum(nodes.values()),
        with_truth=sum(matched.values()),
        with_alternatives=with_alternatives,
        by_kind={kind: (nodes[kind], matched[kind]) for kind in sorted(nodes)},
    )


def print_coverage(truths: list[GroundTruth], out: TextIO = sys.stdout) -> None:
    """Print :func:`coverage` of ``truths`` as a small table to ``out``."""
    cov = coverage(truths)
    print(
        f"{len(truths)} queries, {cov.nodes} plan nodes, {cov.with_truth} with truth "
        f"({cov.with_alternatives} of them with alternatives)",
        file=out,
    )
    for kind, (total, matched) in cov.by_kind.items():
        print(f"  {kind:<10} {matched:>5} / {total:<5}", file=out)


def _build(suite: str, scale_factor: float) -> SuiteGroundTruth:
    conn = tpc.connect(suite, scale_factor=scale_factor)
    try:
        traced, failures = trace_suite(suite, tpc_schemas(conn))
        queries = []
        for query_id, query in sorted(traced.items()):
            try:
                plan = parse_duckdb_json(tpc.explain_json(conn, query.sql))
            except (duckdb.Error, ValueError) as exc:  # ValueError: no plan, or one we cannot read
                where = f"{query.query.rel_path}::{query.query.name}"
                failures[query_id] = f"{where} failed to EXPLAIN: {exc!r}"
                continue
            queries.append(match_plan(query, plan))
    finally:
        conn.close()
    return SuiteGroundTruth(suite, scale_factor, queries, dict(sorted(failures.items())))


def _cache_key(suite: str, scale_factor: float) -> str:
    digest = hashlib.sha256()
    for part in ("1", suite, repr(scale_factor), ibis.__version__, duckdb.__version__):
        digest.update(part.encode() + b"\0")
    for source in [query_file(suite), *_SOURCES]:
        digest.update(source.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _dump(built: SuiteGroundTruth) -> dict:
    return {
        "suite": built.suite,
        "scale_factor": built.scale_factor,
        "failures": {str(k): v for k, v in built.failures.items()},
        "queries": [ground_truth_to_dict(q) for q in built.queries],
    }


def _load(path: Path) -> SuiteGroundTruth:
    data = json.loads(path.read_text())
    return SuiteGroundTruth(
        suite=data["suite"],
        scale_factor=data["scale_factor"],
        queries=[ground_truth_from_dict(q) for q in data["queries"]],
        failures={int(k): v for k, v in data["failures"].items()},
    )
