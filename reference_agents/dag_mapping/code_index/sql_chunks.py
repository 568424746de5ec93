"""SQL source -> chunks: one per statement and CTE, one per clause of every SELECT in it."""

from __future__ import annotations

import bisect
from pathlib import PurePosixPath

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.tokens import Token, TokenType

from reference_agents.dag_mapping.code_index import sql_features as features
from reference_agents.dag_mapping.code_index.model import FUNCTION, CodeChunk, file_hash
from reference_agents.dag_mapping.code_index.source_text import SourceText
from reference_agents.dag_mapping.code_index.sql_spans import method_span, node_span, parse_with_spans

# Clause argument of a SELECT -> chunk kind.
_CLAUSE_KINDS = {
    "where": "filter",
    "having": "filter",
    "qualify": "filter",
    "order": "order",
    "limit": "limit",
    "offset": "limit",
}


def chunk_sql(path: str, source: str, dialect: str = "duckdb") -> list[CodeChunk]:
    """Chunks of one SQL file, ordered by start position (a statement before its clauses).

    Per statement a "function" chunk (symbol: the file stem) and per CTE one (``stem.cte_name``,
    spanning ``name AS (...)``). Per SELECT, wherever it is (statement, CTE, subquery), with the
    symbol of its innermost CTE:

    - ``project``: the SELECT keyword to the end of the last select item; ``distinct`` the same
      span when it is ``SELECT DISTINCT``;
    - ``scan``: ``FROM <table>`` when the first source is a table (a derived table has its own chunks);
    - ``join``: each join, explicit or comma (the comma itself left out), with its ON condition;
    - ``filter``: WHERE, HAVING, QUALIFY;
    - ``aggregate``: the GROUP BY clause, its features the keys plus the aggregate functions of the
      select list and HAVING; without GROUP BY but with aggregates in the select list, the select
      list's span;
    - ``order`` ORDER BY, ``limit`` LIMIT (and OFFSET), ``window`` each ``f(...) OVER (...)`` of
      the select list.

    A set operation is a ``union`` chunk from its keyword (``UNION ALL``) to the end of its right
    side, plus its own ORDER BY / LIMIT. Spans come from the tokens each clause consumed (see
    :mod:`~reference_agents.dag_mapping.code_index.sql_spans`); features from the clause itself,
    nested queries excluded (see :mod:`~reference_agents.dag_mapping.code_index.sql_features`).

    Raises ``ValueError`` naming ``path`` when the SQL cannot be parsed in ``dialect``."""
    try:
        statements, tokens = parse_with_spans(source, dialect)
    except SqlglotError as error:
        raise ValueError(f"{path}: not parsable as {dialect} SQL: {error}") from error
    chunker = _Chunker(path, source, tokens)
    for statement in statements:
        chunker.statement(statement)
    return sorted(chunker.chunks, key=lambda c: (c.start_line, c.start_col, c.kind != FUNCTION))


class _Chunker:
    def __init__(self, path: str, source: str, tokens: list[Token]):
        self.path = path
        self.stem = PurePosixPath(path).stem
        self.text = SourceText(source)
        self.digest = file_hash(source)
        self.tokens = tokens
        self.token_starts = [token.start for token in tokens]
        self.cte_names: set[str] = set()
        self.chunks: list[CodeChunk] = []

    def statement(self, statement: exp.Expr) -> None:
        self.cte_names = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
        self.add(statement, FUNCTION, node_span(statement), [statement], whole=True)
        for cte in statement.find_all(exp.CTE):
            self.add(cte, FUNCTION, node_span(cte), [cte], whole=True)
        for select in statement.find_all(exp.Select):
            self.select(select)
        for operation in statement.find_all(exp.SetOperation):
            self.add(operation, "union", method_span(operation, "_parse_set_operations"), [])
            self.modifiers(operation)

    def select(self, select: exp.Select) -> None:
        items = select.expressions
        item_span = self.select_list_span(items)
        self.add(select, "project", item_span, items)
        if select.args.get("distinct"):
            self.add(select, "distinct", item_span, items)
        source = select.args.get("from_")
        if source is not None and isinstance(source.this, exp.Table):
            self.add(select, "scan", node_span(source), [source])
        for join in select.args.get("joins") or []:
            self.add(select, "join", self.without_leading_comma(node_span(join)), [join])
        group = select.args.get("group")
        having = select.args.get("having")
        grouped = features.group_aggregates([*items, *([having] if having else [])])
        if group is not None:
            self.add(select, "aggregate", node_span(group), [group, *grouped])
        elif grouped:
            self.add(select, "aggregate", item_span, grouped)
        for item in items:
            for window in features.own_nodes(item):
                if isinstance(window, exp.Window):
                    self.add(select, "window", node_span(window), [window])
        for key in ("where", "having", "qualify"):
            clause = select.args.get(key)
            if clause is not None:
                self.add(select, _CLAUSE_KINDS[key], node_span(clause), [clause])
        self.modifiers(select)

    def modifiers(self, query: exp.Expr) -> None:
        for key in ("order", "limit", "offset"):
            clause = query.args.get(key)
            if clause is not None:
                self.add(query, _CLAUSE_KINDS[key], node_span(clause), [clause])

    def select_list_span(self, items: list[exp.Expr]) -> tuple[int, int] | None:
        """From the SELECT keyword before the first item to the end of the last item."""
        spans = [span for span in map(node_span, items) if span is not None]
        if not spans:
            return None
        first = min(start for start, _ in spans)
        index = bisect.bisect_left(self.token_starts, first) - 1
        while index >= 0 and self.tokens[index].token_type != TokenType.SELECT:
            index -= 1
        start = self.tokens[index].start if index >= 0 else first
        return start, max(end for _, end in spans)

    def without_leading_comma(self, span: tuple[int, int] | None) -> tuple[int, int] | None:
        if span is None:
            return None
        index = bisect.bisect_left(self.token_starts, span[0])
        if index + 1 < len(self.tokens) and self.tokens[index].token_type == TokenType.COMMA:
            return self.tokens[index + 1].start, span[1]
        return span

    def symbol(self, node: exp.Expr) -> str:
        cte = node if isinstance(node, exp.CTE) else node.find_ancestor(exp.CTE)
        return f"{self.stem}.{cte.alias_or_name}" if cte is not None else self.stem

    def add(self, node: exp.Expr, kind: str, span, roots: list[exp.Expr], whole: bool = False) -> None:
        """Add a chunk over character ``span`` (first, last inclusive) with the features of
        ``roots``; ``whole``: nested queries count too (a statement or CTE chunk)."""
        if span is None:
            return
        scope = [descendant for root in roots for descendant in root.find_all(exp.Query)] if whole else []
        feature_roots = roots + scope
        start_line, start_col = self.text.position(span[0])
        end_line, end_col = self.text.position(span[1] + 1)
        self.chunks.append(
            CodeChunk(
                path=self.path,
                symbol=self.symbol(node),
                kind=kind,
                start_line=start_line,
                end_line=end_line,
                start_col=start_col,
                end_col=end_col,
                text=self.text.source[span[0] : span[1] + 1],
                content_hash=self.digest,
                columns=features.columns(feature_roots),
                constants=features.constants(feature_roots),
                aggregates=features.aggregates(feature_roots),
                tables=features.tables(feature_roots, self.cte_names),
            )
        )
