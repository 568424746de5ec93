"""DAG -> code mapping (issue 17): how often the mapper finds the code of each plan node, on TPC-H
(where it was tuned) and TPC-DS (held out).

For each suite, the ground truth of :mod:`reference_agents.dag_mapping.ground_truth` (ibis's TPC
query functions traced, compiled, planned by DuckDB at ``--scale-factor``, plan nodes matched to
the DataFrame calls) gives the plans and, for the nodes that have one, the right span. The code
index is ibis's whole TPC directory (both suites' Python, and the reference SQL of DuckDB and
ClickHouse as distractors). Every plan is mapped by
:func:`reference_agents.dag_mapping.mapper.mapper.map_plan`; printed per suite, over the nodes
with truth (a hit: the truth's span or one of its alternatives):

- symbol@1 / symbol@3: the right file and function first / in the first three spans;
- line@1 / line@3: the right function AND overlapping lines; IoU@1: line IoU of the first span;
- the same per operator kind, and per confidence band (accept >= 0.8, second pass 0.5-0.8, review
  < 0.5): node count and line@1 precision, plus how many nodes without truth (optimiser-made) land
  in each band;
- side by side, the BM25-only baseline with whole-plan context: functions ranked by BM25 for the
  whole plan's tokens, then in each the call ranked by BM25 for the node's tokens.

``--languages python`` (default) tells the mapper the plans came from DataFrame code, as a user
knows whether a job is PySpark or SQL; ``--languages all`` maps into SQL too (the SQL files then
compete with the Python and the truth, always Python, is often missed). ``--dense`` adds MiniLM
dense retrieval, fused with BM25 by reciprocal rank. ``--fit`` fits the confidence coefficients
(``CONFIDENCE_TEMPERATURE``, ``NULL_SCORE`` of :mod:`reference_agents.dag_mapping.mapper.rerank`) on the suites run:
use it with ``--suite h`` only.

Run: ``python -m bench.dag_mapping [--suite h|ds|both] [--languages python|all] [--dense] [--fit]``
(about 10 s on 2 cores, building the ground truth included; ``--dense`` adds ~20 s of embedding).
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import ibis
from reference_agents.dag_mapping.code_index.repository import index_repository
from reference_agents.dag_mapping.ground_truth.build import build_suite
from reference_agents.dag_mapping.ground_truth.match import GroundTruth, Truth
from reference_agents.dag_mapping.mapper.lexical import node_tokens, plan_tokens
from reference_agents.dag_mapping.mapper.mapper import ACCEPT, SECOND_PASS, MapperIndex, NodeMapping, map_plan
from reference_agents.dag_mapping.mapper.rerank import span_probability

TPC_DIR = Path(ibis.__file__).parent / "backends" / "tests" / "tpc"
BANDS = ("accept", "second_pass", "review")

Span = tuple[str, str, int, int]  # path, symbol, start line, end line


@dataclass(frozen=True)
class Scored:
    """One node with truth: its kind, the hits of the first (and first three) spans predicted,
    the IoU of the first, and the mapper's confidence and span scores, best first (None for the
    baseline)."""

    kind: str
    symbol1: bool
    symbol3: bool
    line1: bool
    line3: bool
    iou1: float
    confidence: float | None
    span_scores: list[float] | None


def truth_spans(truth: Truth) -> list[Span]:
    """The truth's span and its alternatives' (all equally right)."""
    return [(truth.path, truth.symbol, truth.start_line, truth.end_line)] + [
        (a.path, a.symbol, a.start_line, a.end_line) for a in truth.alternatives
    ]


def _iou(a: Span, b: Span) -> float:
    if a[:2] != b[:2]:
        return 0.0
    inter = min(a[3], b[3]) - max(a[2], b[2]) + 1
    union = max(a[3], b[3]) - min(a[2], b[2]) + 1
    return max(inter, 0) / union


def score_node(kind: str, predicted: list[Span], truth: Truth, confidence=None, span_scores=None) -> Scored:
    """Score predicted spans (best first) against ``truth``."""
    right = truth_spans(truth)
    symbols = {span[:2] for span in right}
    sym = [span[:2] in symbols for span in predicted]
    line = [any(_iou(span, r) > 0 for r in right) for span in predicted]
    iou1 = max((_iou(predicted[0], r) for r in right), default=0.0) if predicted else 0.0
    return Scored(kind, any(sym[:1]), any(sym[:3]), any(line[:1]), any(line[:3]), iou1, confidence, span_scores)


def mapper_spans(mapping: NodeMapping) -> list[Span]:
    """The mapping's span then its alternatives'."""
    if mapping.path is None:
        return []
    return [(mapping.path, mapping.symbol, mapping.start_line, mapping.end_line)] + [
        (a.path, a.symbol, a.start_line, a.end_line) for a in mapping.alternatives
    ]


def run_mapper(index: MapperIndex, truths: list[GroundTruth]) -> tuple[list[Scored], dict[str, int]]:
    """Map every plan; score the nodes with truth; count the nodes without truth per band."""
    scored, untruthed = [], dict.fromkeys(BANDS, 0)
    for gt in truths:
        kinds = {node.node_id: node.kind.value for node in gt.plan.walk()}
        for mapping in map_plan(gt.plan, index):
            truth = gt.truth.get(mapping.node_id)
            if truth is None:
                untruthed[mapping.band] += 1
                continue
            span_scores = [mapping.signals[0]] + [a.score for a in mapping.alternatives]
            kind = kinds[mapping.node_id]
            scored.append(score_node(kind, mapper_spans(mapping), truth, mapping.confidence, span_scores))
    return scored, untruthed


def run_baseline(index: MapperIndex, truths: list[GroundTruth]) -> list[Scored]:
    """BM25 alone, with whole-plan context, in two stages: functions ranked by the mean BM25 score
    of their call chunks for the whole plan's tokens; then, in each of the first three functions,
    the call chunk with the best BM25 score for the node's own tokens. (Summing both scores per
    chunk instead, the plan's many tokens swamp the node's and every node of a plan gets the same
    call: TPC-DS line@1 0.205 against 0.603.)"""
    lexical = index.lexical
    members: dict[tuple[str, str], list[int]] = {}
    for i, chunk in enumerate(lexical.chunks):
        members.setdefault((chunk.path, chunk.symbol), []).append(i)
    scored = []
    for gt in truths:
        plan_scores = lexical.scores(plan_tokens(gt.plan))
        functions = sorted(members, key=lambda f: (-float(np.mean(plan_scores[members[f]])), f))[:3]
        for node in gt.plan.walk():
            truth = gt.truth.get(node.node_id)
            if truth is None:
                continue
            node_scores = lexical.scores(node_tokens(node))
            predicted = []
            for function in functions:
                c = lexical.chunks[max(members[function], key=lambda i: (node_scores[i], -i))]
                predicted.append((c.path, c.symbol, c.start_line, c.end_line))
            scored.append(score_node(node.kind.value, predicted, truth))
    return scored


def _rates(rows: list[Scored]) -> str:
    n = len(rows)
    if not n:
        return f"{0:>6}" + " " * 40
    mean = lambda f: sum(f(r) for r in rows) / n  # noqa: E731
    return (
        f"{n:>6} {mean(lambda r: r.symbol1):>6.3f} {mean(lambda r: r.symbol3):>6.3f} "
        f"{mean(lambda r: r.line1):>6.3f} {mean(lambda r: r.line3):>6.3f} {mean(lambda r: r.iou1):>6.3f}"
    )


def print_report(suite: str, mapped: list[Scored], untruthed: dict[str, int], baseline: list[Scored]) -> None:
    """The per-suite tables: overall and per kind (mapper | baseline), then the bands."""
    header = f"{'nodes':>6} {'sym@1':>6} {'sym@3':>6} {'line@1':>6} {'line@3':>6} {'IoU@1':>6}"
    print(f"\n== TPC-{suite.upper()}: nodes with truth (mapper | BM25 baseline)")
    print(f"  {'kind':<12}{header} | {header}")
    print(f"  {'all':<12}{_rates(mapped)} | {_rates(baseline)}")
    kinds = sorted({r.kind for r in mapped})
    for kind in kinds:
        print(
            f"  {kind:<12}{_rates([r for r in mapped if r.kind == kind])} | "
            f"{_rates([r for r in baseline if r.kind == kind])}"
        )
    print(f"\n  confidence bands (accept >= {ACCEPT}, second pass {SECOND_PASS}-{ACCEPT}, review < {SECOND_PASS}):")
    print(f"  {'band':<12}{'nodes':>6} {'line@1 precision':>17} {'sym@1 precision':>16} {'no-truth nodes':>15}")
    for band in BANDS:
        rows = [r for r in mapped if _band(r.confidence) == band]
        line = f"{sum(r.line1 for r in rows) / len(rows):>17.3f}" if rows else f"{'-':>17}"
        sym = f"{sum(r.symbol1 for r in rows) / len(rows):>16.3f}" if rows else f"{'-':>16}"
        print(f"  {band:<12}{len(rows):>6} {line} {sym} {untruthed[band]:>15}")


def _band(confidence: float) -> str:
    if confidence >= ACCEPT:
        return "accept"
    return "second_pass" if confidence >= SECOND_PASS else "review"


def fit_confidence(rows: list[tuple[list[float], bool]]) -> tuple[float, float, float]:
    """Maximum likelihood (grid search) of (``CONFIDENCE_TEMPERATURE``, ``NULL_SCORE``) for
    :func:`rerank.span_probability`, over (span scores best first, line@1 right) of the nodes whose
    symbol is right. Returns (temperature, null score, mean log-likelihood)."""
    best = (0.0, 0.0, -math.inf)
    for temperature in np.arange(0.01, 0.301, 0.01):
        for null_score in np.arange(0.0, 0.801, 0.02):
            likelihood = 0.0
            for scores, right in rows:
                p = min(max(span_probability(scores, temperature, null_score), 1e-6), 1 - 1e-6)
                likelihood += math.log(p if right else 1 - p)
            if likelihood / len(rows) > best[2]:
                best = (round(float(temperature), 3), round(float(null_score), 3), likelihood / len(rows))
    return best


def _encoder(dense: bool) -> Callable | None:
    if not dense:
        return None
    from reference_agents.dag_mapping.mapper.embeddings import minilm_encoder

    return minilm_encoder()


def main(suites: list[str], languages: str, dense: bool, fit: bool, scale_factor: float, cache_dir: str | None) -> None:
    t0 = time.perf_counter()
    repository = index_repository(TPC_DIR)
    t_index = time.perf_counter()
    index = MapperIndex(
        repository, languages=None if languages == "all" else {languages}, encoder=_encoder(dense)
    )
    t_prepare = time.perf_counter()
    print(
        f"code index: {TPC_DIR} ({len(repository.chunks)} chunks, {len(repository.skipped)} skipped; "
        f"{len(index.chunks)} kept for languages={languages}, {len(index.units)} units) "
        f"in {t_index - t0:.1f} s, prepared in {t_prepare - t_index:.1f} s{' with MiniLM' if dense else ''}"
    )
    fit_rows: list[Scored] = []
    for suite in suites:
        t1 = time.perf_counter()
        built = build_suite(suite, scale_factor=scale_factor, cache_dir=cache_dir)
        t2 = time.perf_counter()
        mapped, untruthed = run_mapper(index, built.queries)
        t3 = time.perf_counter()
        baseline = run_baseline(index, built.queries)
        t4 = time.perf_counter()
        nodes = sum(1 for gt in built.queries for _ in gt.plan.walk())
        print(
            f"\nTPC-{suite.upper()} sf={scale_factor}: {len(built.queries)} queries "
            f"({len(built.failures)} failed to build: {sorted(built.failures)}), {nodes} plan nodes; "
            f"ground truth {t2 - t1:.1f} s, mapper {t3 - t2:.1f} s ({1000 * (t3 - t2) / max(nodes, 1):.1f} ms/node), "
            f"baseline {t4 - t3:.1f} s"
        )
        print_report(suite, mapped, untruthed, baseline)
        fit_rows += mapped
    if fit:
        rows = [(r.span_scores, r.line1) for r in fit_rows if r.symbol1]
        temperature, null_score, likelihood = fit_confidence(rows)
        print(f"\nfitted on {len(rows)} nodes: CONFIDENCE_TEMPERATURE = {temperature}, NULL_SCORE = {null_score} "
              f"(mean log-likelihood {likelihood:.4f})")
    print(f"\ntotal {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=["h", "ds", "both"], default="both")
    parser.add_argument("--languages", choices=["python", "sql", "all"], default="python")
    parser.add_argument("--dense", action="store_true", help="fuse MiniLM dense retrieval with BM25")
    parser.add_argument("--fit", action="store_true", help="fit the confidence coefficients (use with --suite h)")
    parser.add_argument("--scale-factor", type=float, default=0.01)
    parser.add_argument("--cache-dir", default=None, help="ground truth cache (default: the builder's temp dir)")
    args = parser.parse_args()
    main(["h", "ds"] if args.suite == "both" else [args.suite], args.languages, args.dense, args.fit,
         args.scale_factor, args.cache_dir)
