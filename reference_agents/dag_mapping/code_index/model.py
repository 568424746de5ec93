"""The unit the mapper retrieves: one chunk of code (a whole function or SQL statement, or one
DataFrame call / SQL clause inside it) with its exact span and the identifiers and literals it names."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from reference_agents.dag_mapping.plans.model import OperatorKind

FUNCTION = "function"
"""Kind of a chunk that is a whole ``def`` (Python) or a whole statement or CTE (SQL)."""

# A call or clause is one of the plan operator kinds; top_n is a plan-only fusion of order + limit.
CALL_KINDS = frozenset(kind.value for kind in OperatorKind) - {OperatorKind.TOP_N.value}
CHUNK_KINDS = CALL_KINDS | {FUNCTION}


def file_hash(source: str) -> str:
    """SHA-256 hex digest of ``source`` encoded as UTF-8: the ``content_hash`` of every chunk of
    that file, so a chunk can be checked against the file it was cut from."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


@dataclass
class CodeChunk:
    """One chunk of a source file.

    ``path`` is repository-relative, posix separators. ``symbol``: Python, the qualified name of the
    innermost enclosing ``def`` (``Class.method``, ``outer.inner``; ``<module>`` outside any def);
    SQL, the file stem, plus ``.cte_name`` inside a CTE. ``kind``: ``"function"`` or a call/clause
    kind from :data:`CALL_KINDS` (the :class:`OperatorKind` values but ``top_n``).

    Span: ``start_line``/``end_line`` 1-based inclusive; ``start_col``/``end_col`` 0-based UTF-8
    byte offsets in their lines, end exclusive (the convention of Python's ``ast`` and of code-object
    ``co_positions()``; equal to character columns for ASCII). ``text`` is exactly the source in
    that span.

    ``columns`` identifiers referenced (lower case), ``constants`` literal values as text (strings
    unquoted, dates ``YYYY-MM-DD``), ``aggregates`` aggregate function names (lower case, ``avg``
    for ibis ``mean``), ``tables`` table names read where visible; all deduplicated, in order of
    first appearance. ``content_hash`` is :func:`file_hash` of the whole file.

    Raises ``ValueError`` on an unknown kind or an empty/inverted span."""

    path: str
    symbol: str
    kind: str
    start_line: int
    end_line: int
    start_col: int
    end_col: int
    text: str
    content_hash: str
    columns: list[str] = field(default_factory=list)
    constants: list[str] = field(default_factory=list)
    aggregates: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.kind not in CHUNK_KINDS:
            raise ValueError(f"unknown chunk kind {self.kind!r}; expected one of {sorted(CHUNK_KINDS)}")
        if self.start_line < 1 or (self.end_line, self.end_col) <= (self.start_line, self.start_col):
            raise ValueError(
                f"bad span {self.start_line}:{self.start_col}-{self.end_line}:{self.end_col} "
                f"for {self.path} {self.symbol}"
            )

    def contains(self, line: int, col: int) -> bool:
        """Whether position (``line`` 1-based, ``col`` 0-based byte offset) lies inside the span."""
        return (self.start_line, self.start_col) <= (line, col) < (self.end_line, self.end_col)


def unique(items) -> list[str]:
    """``items`` deduplicated, first occurrence kept, order preserved."""
    return list(dict.fromkeys(items))
