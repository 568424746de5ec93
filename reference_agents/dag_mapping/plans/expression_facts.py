"""What an engine's expression text names, as each plan adapter's expression reader returns it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Call:
    """One function call: ``name`` lower case; ``outermost`` when not nested in another call's
    arguments; ``windowed`` when it is a window function (DuckDB: ``OVER`` follows it; Spark: a
    ``windowspecdefinition(...)`` does)."""

    name: str
    outermost: bool
    windowed: bool = False


@dataclass
class ExpressionFacts:
    """What one expression text names: ``columns`` (unqualified, lower case, first-seen order, no
    duplicates), ``constants`` (literal values as text, same order and uniqueness), ``calls`` (every
    function call, in order)."""

    columns: list[str] = field(default_factory=list)
    constants: list[str] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)


def append_new(items: list[str], value: str) -> None:
    """Append ``value`` to ``items`` unless it is empty or already there."""
    if value and value not in items:
        items.append(value)
