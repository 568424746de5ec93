"""Columns, constants and function calls named in DuckDB's expression text, as DuckDB prints it in
plan ``extra_info`` (``l_shipdate<='1998-09-02'::DATE``, ``sum(#4)``, ``CAST(x AS DECIMAL(12,2))``,
``RANK() OVER (PARTITION BY i_class ORDER BY ...)``, ``optional: Dynamic Filter (ca_zip)``)."""

from __future__ import annotations

import re

from reference_agents.dag_mapping.plans.expression_facts import Call, ExpressionFacts, append_new

_TOKEN = re.compile(
    r"""
    (?P<string>'(?:[^']|'')*')
  | (?P<ref>\#\d+)
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<quoted>"(?:[^"]|"")*")
  | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
  | (?P<cast>::)
  | (?P<space>\s+)
  | (?P<op>.)
    """,
    re.VERBOSE | re.DOTALL,
)

# DuckDB prints its keywords upper case; matching them case-sensitively keeps a column that happens to
# be called ``desc`` or ``end``.
_KEYWORDS = frozenset(
    """AND OR NOT IS NULL TRUE FALSE IN BETWEEN LIKE ILIKE GLOB SIMILAR ESCAPE CASE WHEN THEN ELSE END
    AS ASC DESC NULLS FIRST LAST DISTINCT FROM OVER PARTITION BY ORDER ROWS RANGE GROUPS ROW CURRENT
    UNBOUNDED PRECEDING FOLLOWING EXCLUDE TIES OTHERS NO SUBQUERY EXISTS ANY ALL SOME INTERVAL FILTER
    WHERE COLLATE""".split()
)
# printed lower case inside some calls (``constant_or_null(false, ...)``)
_LITERAL_WORDS = frozenset({"true", "false", "null"})

# Functions whose literal arguments DuckDB's optimiser supplies rather than the query: integer/string
# compression offsets, the scalar-subquery error message, sort-key specs.
_QUIET_PREFIX = "__internal_"
_QUIET_FUNCTIONS = frozenset({"error", "create_sort_key"})

# a value just before ``-`` makes it binary minus; anything else makes it a sign
_VALUE_KINDS = frozenset({"string", "ref", "number", "quoted", "word"})


def _is_value(token: tuple[str, str]) -> bool:
    kind, text = token
    return text == ")" or (kind in _VALUE_KINDS and not (kind == "word" and text in _KEYWORDS))


def _tokens(text: str) -> list[tuple[str, str]]:
    return [(m.lastgroup, m.group()) for m in _TOKEN.finditer(text) if m.lastgroup != "space"]


def _unquote(token: str) -> str:
    quote = token[0]
    return token[1:-1].replace(quote * 2, quote)


def _is(tokens: list[tuple[str, str]], i: int, text: str) -> bool:
    return i < len(tokens) and tokens[i][1] == text


def _skip_parens(tokens: list[tuple[str, str]], i: int) -> int:
    """Index after the parenthesis group opening at ``i`` (or the end, when unbalanced)."""
    depth = 0
    while i < len(tokens):
        depth += {"(": 1, ")": -1}.get(tokens[i][1], 0)
        i += 1
        if depth == 0:
            return i
    return i


def _skip_type(tokens: list[tuple[str, str]], i: int) -> int:
    """Index after the type name starting at ``i`` (after ``AS`` in a cast, or after ``::``):
    ``DOUBLE``, ``DECIMAL(12,2)``, ``INTEGER[]``, ``TIMESTAMP WITH TIME ZONE``."""
    if i < len(tokens) and tokens[i][0] in ("word", "quoted"):
        i += 1
        while _is(tokens, i, ".") and i + 1 < len(tokens) and tokens[i + 1][0] in ("word", "quoted"):
            i += 2
    if _is(tokens, i, "("):
        i = _skip_parens(tokens, i)
    while _is(tokens, i, "[") and _is(tokens, i + 1, "]"):
        i += 2
    if [t for _, t in tokens[i : i + 3]] == ["WITH", "TIME", "ZONE"]:
        i += 3
    return i


def scan(text: str) -> ExpressionFacts:
    """Read one DuckDB expression text (or several, one a line). Never raises: text that is not an
    expression yields whatever identifiers and literals it holds.

    Skipped: positional references (``#0``), keywords, cast target types, the words ``optional:`` and
    ``Dynamic Filter`` of pushed-down filters, and literal arguments of DuckDB-internal functions
    (``__internal_compress_*``, ``error``, ``create_sort_key``)."""
    facts = ExpressionFacts()
    tokens = _tokens(text)
    # one entry per open parenthesis: (the Call it belongs to or None, whether its literals are quiet)
    stack: list[tuple[Call | None, bool]] = []
    i = 0
    while i < len(tokens):
        kind, token = tokens[i]
        quiet = any(q for _, q in stack)
        if kind == "string":
            if not quiet:
                append_new(facts.constants, _unquote(token))
            i += 1
        elif kind == "number":
            if not quiet:
                append_new(facts.constants, token)
            i += 1
        elif kind == "op" and token == "-" and i + 1 < len(tokens) and tokens[i + 1][0] == "number":
            signed = not i or not _is_value(tokens[i - 1])
            if signed and not quiet:
                append_new(facts.constants, "-" + tokens[i + 1][1])
            i += 2 if signed else 1
        elif kind == "cast":
            i = _skip_type(tokens, i + 1)
        elif kind in ("word", "quoted"):
            i = _identifier(tokens, i, facts, stack)
        elif token == "(":
            stack.append((None, False))
            i += 1
        elif token == ")":
            if stack:
                call, _ = stack.pop()
                if call is not None and _is(tokens, i + 1, "OVER"):
                    call.windowed = True
            i += 1
        else:
            i += 1
    return facts


def _identifier(
    tokens: list[tuple[str, str]], i: int, facts: ExpressionFacts, stack: list[tuple[Call | None, bool]]
) -> int:
    """Handle the identifier (chain) at ``i``; return the index after it."""
    kind, token = tokens[i]
    if token == "optional" and _is(tokens, i + 1, ":"):
        return i + 2
    if token == "Dynamic" and _is(tokens, i + 1, "Filter"):
        return i + 2
    if kind == "word" and (token in _KEYWORDS or token.lower() in _LITERAL_WORDS):
        return _skip_type(tokens, i + 1) if token == "AS" else i + 1
    parts = [token if kind == "word" else _unquote(token)]
    i += 1
    while _is(tokens, i, ".") and i + 1 < len(tokens) and tokens[i + 1][0] in ("word", "quoted"):
        nxt_kind, nxt = tokens[i + 1]
        parts.append(nxt if nxt_kind == "word" else _unquote(nxt))
        i += 2
    name = parts[-1].lower()
    if _is(tokens, i, "("):
        call = Call(name, outermost=not any(c is not None for c, _ in stack))
        facts.calls.append(call)
        stack.append((call, name.startswith(_QUIET_PREFIX) or name in _QUIET_FUNCTIONS))
        return i + 1
    append_new(facts.columns, name)
    return i
