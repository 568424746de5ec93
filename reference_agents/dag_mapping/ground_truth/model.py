"""The ground truth's shape: for each plan node that has one, the call chunk that produced it and
the other chunks that are equally right."""

from __future__ import annotations

from dataclasses import dataclass, field

from reference_agents.dag_mapping.plans.model import PlanNode


@dataclass(frozen=True)
class CodeSpan:
    """A call chunk: file (relative to the TPC suite root, posix), enclosing def (``test_04``,
    ``test_04.profile`` for a nested one), method called, and span from the method name token
    to the closing parenthesis (lines 1-based inclusive, columns 0-based UTF-8 byte offsets, end
    exclusive: the code index's :class:`CodeChunk` convention)."""

    path: str
    symbol: str
    method: str
    start_line: int
    end_line: int
    start_col: int
    end_col: int

    @property
    def key(self) -> tuple[str, int, int, int, int]:
        """(path, start_line, start_col, end_line, end_col): what makes two spans the same chunk."""
        return (self.path, self.start_line, self.start_col, self.end_line, self.end_col)


@dataclass
class Truth:
    """The call that produced a plan node (its fields as in :class:`CodeSpan`), and
    ``alternatives``: other calls that are equally right for the node, ordered by position."""

    path: str
    symbol: str
    method: str
    start_line: int
    end_line: int
    start_col: int
    end_col: int
    alternatives: list[CodeSpan] = field(default_factory=list)

    @property
    def span(self) -> CodeSpan:
        """This truth's own span as a :class:`CodeSpan`."""
        return CodeSpan(
            self.path, self.symbol, self.method, self.start_line, self.end_line, self.start_col, self.end_col
        )


@dataclass
class GroundTruth:
    """One query's plan and, for the nodes that have one, their truth by ``node_id``.
    ``function`` is the query function's own span (``def`` line to its last line, method
    ``"def"``, columns 0), ``sql`` the SQL ibis compiled and DuckDB planned."""

    query_id: int
    plan: PlanNode
    truth: dict[str, Truth]
    function: CodeSpan
    sql: str
