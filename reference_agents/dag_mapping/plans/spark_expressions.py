"""Columns, constants and function calls named in Spark's physical-plan expression text.

Spark prints an attribute with its expression id (``l_shipdate#16``, ``count#17L``; ``#x`` once
normalised) and a literal as its bare value: ``(c_mktsegment#2 = BUILDING)``, ``(l_shipdate#7 <=
1998-09-02)``, ``(p_type#4 = ECONOMY ANODIZED STEEL)``. So a word with an id is a column and a run of
other words that are not keywords, operators or calls is one constant. Plan-stability
``simplified.txt`` files strip the ids; there every identifier is read as a column.

Data source filters (``PushedFilters: [IsNotNull(l_shipdate), LessThanOrEqual(l_shipdate,1998-09-02)]``)
have their own syntax: :func:`scan_pushed_filters`."""

from __future__ import annotations

import re

from reference_agents.dag_mapping.plans.expression_facts import Call, ExpressionFacts, append_new

# what Spark writes in place of the items it leaves out of a long list
_TRUNCATED = re.compile(r"\.\.\. \d+ more fields?")
_TOKEN = re.compile(r"(?P<space>\s+)|(?P<open>[(\[{])|(?P<close>[)\]}])|(?P<comma>,)|(?P<word>[^\s()\[\]{},]+)")
_ATTRIBUTE = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_$]*)#(?:\d+|x)L?")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[LDSY]?")

_KEYWORDS = frozenset(
    """AND OR NOT IN IS NULL CASE WHEN THEN ELSE END ASC DESC NULLS FIRST LAST DISTINCT LIKE RLIKE ILIKE
    FILTER WHERE AS as Subquery ReusedSubquery""".split()
)
_OPERATORS = frozenset("= == <=> != <> < <= > >= + - * / % & | ^ ~ ! || div".split())
_LITERAL_WORDS = frozenset({"true", "false", "null"})
# Attributes Spark makes up: existence-join marks, subquery and dynamic-pruning placeholders, and
# window inputs/outputs (_w0, _we0).
_INTERNAL_ATTRIBUTES = frozenset({"exists", "subquery", "dynamicpruning"})
_WINDOW_ATTRIBUTE = re.compile(r"_we?\d+")
# Calls whose literal arguments Spark supplies rather than the query: decimal precision/scale,
# window frames, count(1) for count(*), hash seeds of bloom filters.
_QUIET_FUNCTIONS = frozenset(
    {"makedecimal", "decimaltype", "specifiedwindowframe", "count", "partial_count", "xxhash64"}
)


def _tokens(text: str) -> list[tuple[str, str]]:
    return [(m.lastgroup, m.group()) for m in _TOKEN.finditer(text)]


def _next_significant(tokens: list[tuple[str, str]], i: int) -> int:
    while i < len(tokens) and tokens[i][0] == "space":
        i += 1
    return i


def _skip_group(tokens: list[tuple[str, str]], i: int) -> int:
    """Index after the bracket group opening at ``i`` (or the end, when unbalanced)."""
    depth = 0
    while i < len(tokens):
        depth += {"open": 1, "close": -1}.get(tokens[i][0], 0)
        i += 1
        if depth == 0:
            return i
    return i


def scan(text: str, ids_stripped: bool = False) -> ExpressionFacts:
    """Read Spark expression text (one expression or a bracketed list). Never raises.

    With ``ids_stripped`` (``simplified.txt``), identifiers are columns and only numbers are
    constants. Skipped: keywords, operators, ``true``/``false``/``null``, expression-id references
    (``#38``, ``[id=#5]``, ``scalar-subquery#4``), cast target types (``as decimal(14,4)``), alias
    names (``... AS revenue#16``) and literal arguments of Spark-internal calls (``MakeDecimal``,
    ``DecimalType``, window frames, ``count(1)``, ``xxhash64`` seeds)."""
    facts = ExpressionFacts()
    tokens = _tokens(_TRUNCATED.sub("", text))
    stack: list[tuple[Call | None, bool]] = []
    literal: list[str] = []

    def flush() -> None:
        if literal and not any(quiet for _, quiet in stack):
            append_new(facts.constants, " ".join(literal))
        literal.clear()

    i = 0
    while i < len(tokens):
        kind, token = tokens[i]
        if kind == "space":
            i += 1
            continue
        if kind == "open":
            flush()
            stack.append((None, False))
            i += 1
        elif kind == "close":
            flush()
            call, _ = stack.pop() if stack else (None, False)
            after = _next_significant(tokens, i + 1)
            if call is not None and after < len(tokens) and tokens[after][1] == "windowspecdefinition":
                call.windowed = True
            i += 1
        elif kind == "comma":
            flush()
            i += 1
        elif i + 1 < len(tokens) and tokens[i + 1][1] == "(" and token not in _KEYWORDS:
            flush()
            name = token.lower()
            call = Call(name, outermost=not any(c is not None for c, _ in stack))
            facts.calls.append(call)
            stack.append((call, name in _QUIET_FUNCTIONS))
            i += 2
        elif token == "AS":
            flush()
            i = _skip_alias(tokens, i + 1)
        elif token == "as":
            flush()
            i = _skip_type(tokens, i + 1)
        elif token in _KEYWORDS or token in _OPERATORS or token in _LITERAL_WORDS:
            flush()
            i += 1
        else:
            i += 1
            quiet = any(q for _, q in stack)
            _word(token, facts, literal, ids_stripped, quiet, flush)
    flush()
    return facts


def _word(
    token: str, facts: ExpressionFacts, literal: list[str], ids_stripped: bool, quiet: bool, flush
) -> None:
    attribute = _ATTRIBUTE.fullmatch(token)
    if attribute:
        flush()
        name = attribute["name"]
        if name not in _INTERNAL_ATTRIBUTES and not _WINDOW_ATTRIBUTE.fullmatch(name):
            append_new(facts.columns, name.lower())
    elif token.startswith("#") and literal:
        literal.append(token)  # "scholaramalgamalg #14": an id never follows a space
    elif "#" in token:
        flush()
    elif ids_stripped:
        if _IDENTIFIER.fullmatch(token):
            if token not in _INTERNAL_ATTRIBUTES:
                append_new(facts.columns, token.lower())
        elif _NUMBER.fullmatch(token) and not quiet:
            append_new(facts.constants, token)
    else:
        literal.append(token)


def _skip_alias(tokens: list[tuple[str, str]], i: int) -> int:
    """Index after an alias name (``revenue#16``, ``round((a / b), 2)#79``): through the first word
    holding an expression id."""
    while i < len(tokens):
        kind, token = tokens[i]
        i += 1
        if kind == "word" and "#" in token:
            return i
    return i


def _skip_type(tokens: list[tuple[str, str]], i: int) -> int:
    """Index after a cast's target type (``int``, ``decimal(14,4)``, ``array<string>``)."""
    i = _next_significant(tokens, i)
    if i < len(tokens) and tokens[i][0] == "word":
        i += 1
        if i < len(tokens) and tokens[i][1] == "(":
            i = _skip_group(tokens, i)
    return i


_LOGICAL_FILTERS = frozenset({"and", "or", "not"})


def scan_pushed_filters(text: str) -> ExpressionFacts:
    """Read a data source filter list such as ``[IsNotNull(c_acctbal), GreaterThan(c_acctbal,0),
    In(ca_state, [KY,GA,NM]), Or(EqualTo(a,1),EqualTo(b,x))]``: in each leaf filter the first argument
    is a column and the others are constants (``In``'s list split into items); ``And``/``Or``/``Not``
    combine filters. ``calls`` lists the filter names. Never raises."""
    facts = ExpressionFacts()
    body = text.strip()
    if body.startswith("[") and body.endswith("]"):
        body = body[1:-1]
    for term in split_top_level(body):
        _pushed_filter(term.strip(), facts)
    return facts


def _pushed_filter(term: str, facts: ExpressionFacts) -> None:
    match = re.fullmatch(r"(?P<name>\w+)\((?P<args>.*)\)", term, re.DOTALL)
    if not match:
        return
    name = match["name"]
    facts.calls.append(Call(name.lower(), outermost=True))
    args = [a.strip() for a in split_top_level(match["args"])]
    if name.lower() in _LOGICAL_FILTERS:
        for arg in args:
            _pushed_filter(arg, facts)
        return
    if args:
        append_new(facts.columns, args[0].strip("`").lower())
    for value in args[1:]:
        items = split_top_level(value[1:-1]) if value.startswith("[") and value.endswith("]") else [value]
        for item in items:
            if "#" not in item:  # ScalarSubquery#31374: a value known only at run time
                append_new(facts.constants, item.strip())


def split_top_level(text: str) -> list[str]:
    """``text`` split at the commas outside any ``()``/``[]``/``{}`` group; an empty text gives []."""
    parts: list[str] = []
    depth = 0
    start = 0
    for i, char in enumerate(text):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(depth - 1, 0)
        elif char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if text.strip():
        parts.append(text[start:])
    return parts
