"""Which code units (outermost functions, whole SQL statements) a plan came from, judged with every
table, column, constant and aggregate of the whole plan at once.

One plan node names little (a join: two key columns), but a whole plan names its tables, most of
their columns and every literal of the query; a query's code names the same. A unit's score is
mostly the share of the plan's features the unit names (see :data:`PRECISION_WEIGHT`), each
feature weighted by its inverse document frequency over the units (a constant one query uses
outweighs ``l_orderkey``)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from reference_agents.dag_mapping.code_index.model import FUNCTION, CodeChunk
from reference_agents.dag_mapping.mapper.lexical import normalise_constant
from reference_agents.dag_mapping.plans.model import PlanNode

Feature = str
"""A normalised name or literal. Untyped on purpose: code often names a column by a string
(``t.group_by("ss_item_sk")``, ``getattr(t, f"{prefix}_sold_date_sk")``), which the chunker keeps
as a constant while the plan shows a column."""

# Score = (recall + PRECISION_WEIGHT * precision) / (1 + PRECISION_WEIGHT). Recall (the plan's
# features found in the unit) leads: a plan names few features its code lacks. Precision (the
# unit's features found in the plan) only separates units of equal recall: a plan drops what the
# optimiser prunes or folds (an IN list of 400 literals may not be printed at all), so a unit
# naming much more than its plan is normal.
PRECISION_WEIGHT = 0.25


def features(
    tables: Iterable[str], columns: Iterable[str], constants: Iterable[str], aggregates: Iterable[str]
) -> frozenset[Feature]:
    """The normalised feature set of a node or chunk (constants by
    :func:`~reference_agents.dag_mapping.mapper.lexical.normalise_constant`, names lower case)."""
    return frozenset(
        [name.lower() for name in (*tables, *columns, *aggregates)]
        + [normalise_constant(value) for value in constants]
    )


def chunk_features(chunk: CodeChunk) -> frozenset[Feature]:
    """:func:`features` of one code chunk."""
    return features(chunk.tables, chunk.columns, chunk.constants, chunk.aggregates)


def node_features(node: PlanNode) -> frozenset[Feature]:
    """:func:`features` of one plan node (not its subtree)."""
    return features(node.tables, node.columns, node.constants, node.aggregates)


def plan_features(plan: PlanNode) -> frozenset[Feature]:
    """The union of :func:`node_features` over every node of ``plan``."""
    return frozenset().union(*(node_features(node) for node in plan.walk()))


@dataclass(frozen=True)
class CodeUnit:
    """An outermost function chunk (a top-level ``def``, a whole SQL statement) and the positions,
    in the index's chunk list, of the call/clause chunks inside its span (nested defs included)."""

    position: int
    chunk: CodeChunk
    members: tuple[int, ...]
    features: frozenset[Feature]


def code_units(chunks: Sequence[CodeChunk]) -> list[CodeUnit]:
    """The units of ``chunks`` in index order. A function chunk inside another's span (a nested
    ``def``, a CTE in its statement) is part of the outer unit, not a unit of its own. Call
    chunks outside every function (module-level code) belong to no unit."""
    by_path: dict[str, list[int]] = {}
    for position, chunk in enumerate(chunks):
        by_path.setdefault(chunk.path, []).append(position)
    units: list[CodeUnit] = []
    for positions in by_path.values():
        functions = [p for p in positions if chunks[p].kind == FUNCTION]
        outer = [p for p in functions if not any(q != p and _inside(chunks[p], chunks[q]) for q in functions)]
        for p in outer:
            unit = chunks[p]
            members = tuple(q for q in positions if chunks[q].kind != FUNCTION and _inside(chunks[q], unit))
            units.append(CodeUnit(p, unit, members, chunk_features(unit)))
    units.sort(key=lambda unit: unit.position)
    return units


def _inside(inner: CodeChunk, outer: CodeChunk) -> bool:
    return (outer.start_line, outer.start_col) <= (inner.start_line, inner.start_col) and (
        inner.end_line,
        inner.end_col,
    ) <= (outer.end_line, outer.end_col)


@dataclass(frozen=True)
class UnitScore:
    """A unit's plan-context score in [0, 1] (see :data:`PRECISION_WEIGHT`), its weighted ``recall`` and
    ``precision``, and the features it shares with the plan."""

    unit: CodeUnit
    score: float
    recall: float
    precision: float
    shared: frozenset[Feature] = field(default_factory=frozenset)


class PlanContext:
    """Ranks ``units`` for a plan; feature weights are IDF over the units:
    ``log((N + 1) / (df + 0.5))``, so a feature no unit has still weighs (it lowers every unit's
    recall alike)."""

    def __init__(self, units: Sequence[CodeUnit]):
        self.units = list(units)
        counts = Counter(feature for unit in self.units for feature in unit.features)
        self._n = len(self.units)
        self._df = counts

    def weight(self, feature: Feature) -> float:
        """The IDF weight of ``feature`` (> 0)."""
        return math.log((self._n + 1) / (self._df.get(feature, 0) + 0.5))

    def rank(self, plan: PlanNode) -> list[UnitScore]:
        """Every unit scored against the whole ``plan``, best first (ties by index order); empty
        when there are no units. A plan with no features scores every unit 0."""
        wanted = plan_features(plan)
        # sorted: float sums in a fixed order, whatever the string hash seed
        wanted_weight = sum(self.weight(f) for f in sorted(wanted))
        scored = []
        for unit in self.units:
            shared = wanted & unit.features
            shared_weight = sum(self.weight(f) for f in sorted(shared))
            recall = shared_weight / wanted_weight if wanted_weight else 0.0
            unit_weight = sum(self.weight(f) for f in sorted(unit.features))
            precision = shared_weight / unit_weight if unit_weight else 0.0
            score = (recall + PRECISION_WEIGHT * precision) / (1 + PRECISION_WEIGHT)
            scored.append(UnitScore(unit, score, recall, precision, shared))
        scored.sort(key=lambda s: (-s.score, s.unit.position))
        return scored
