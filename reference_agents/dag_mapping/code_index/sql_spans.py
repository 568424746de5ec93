"""SQL parsed by sqlglot with the exact source span of every clause.

sqlglot records positions only on leaf-ish nodes (identifiers, literals, function names), not on
clauses (``WHERE``, ``GROUP BY``, ``JOIN``...), so the dialect's parser is subclassed: each
clause-parsing method notes the first and last token it consumed on the node it returns."""

from __future__ import annotations

import functools

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.parser import Parser
from sqlglot.tokens import Token

SPANS = "code_index_spans"
"""Meta key on a parsed node: ``{parser method: (first char offset, last char offset inclusive)}``."""

# The parser methods whose result is one clause or query; each records the tokens it consumed.
SPANNED_METHODS = (
    "_parse_statement",
    "_parse_select",
    "_parse_subquery",
    "_parse_with",
    "_parse_cte",
    "_parse_from",
    "_parse_join",
    "_parse_table",
    "_parse_where",
    "_parse_group",
    "_parse_having",
    "_parse_qualify",
    "_parse_order",
    "_parse_limit",
    "_parse_offset",
    "_parse_window",
    "_parse_set_operations",
    "_parse_expression",
)


def parse_with_spans(source: str, dialect: str) -> tuple[list[exp.Expr], list[Token]]:
    """The statements of ``source`` (``None`` ones, from stray ``;``, dropped) and its tokens.

    Raises ``ValueError`` for an unknown dialect, ``sqlglot.errors.ParseError``/``TokenError`` for
    SQL it cannot read, and ``RuntimeError`` if this sqlglot no longer has a parser method the
    spans rely on."""
    d = Dialect.get_or_raise(dialect)
    tokens = d.tokenize(source)
    parser = _spanning_parser(d.parser_class)(dialect=d)
    return [tree for tree in parser.parse(tokens, source) if tree is not None], tokens


def method_span(node: exp.Expr, method: str) -> tuple[int, int] | None:
    """Character span (first, last inclusive) ``method`` recorded on ``node``, if it produced it."""
    return node.meta.get(SPANS, {}).get(method)


def node_span(node: exp.Expr) -> tuple[int, int] | None:
    """Character span (first, last inclusive) of ``node``: the union of what every parser method
    and every position sqlglot itself recorded on it and its descendants; ``None`` if none did."""
    starts, ends = [], []
    for child in node.walk():
        meta = child.meta
        for start, end in meta.get(SPANS, {}).values():
            starts.append(start)
            ends.append(end)
        if "start" in meta and "end" in meta:
            starts.append(meta["start"])
            ends.append(meta["end"])
    return (min(starts), max(ends)) if starts else None


@functools.cache
def _spanning_parser(base: type[Parser]) -> type[Parser]:
    missing = [name for name in SPANNED_METHODS if not hasattr(base, name)]
    if missing:
        raise RuntimeError(
            f"sqlglot's {base.__name__} has no {', '.join(missing)}: clause spans cannot be recorded"
        )
    methods = {name: _recording(name, getattr(base, name)) for name in SPANNED_METHODS}
    return type(f"Spanning{base.__name__}", (base,), methods)


def _recording(name: str, method):
    @functools.wraps(method)
    def recorded(self, *args, **kwargs):
        first = self._index
        result = method(self, *args, **kwargs)
        if isinstance(result, exp.Expr) and self._index > first:
            start, end = self._tokens[first].start, self._tokens[self._index - 1].end
            spans = result.meta.setdefault(SPANS, {})
            if name in spans:  # a method parsing the same node twice (nested calls): keep the union
                start, end = min(start, spans[name][0]), max(end, spans[name][1])
            spans[name] = (start, end)
        return result

    return recorded
