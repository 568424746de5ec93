"""The free text inside a JSON value: every string, where it sits, and how to replace it."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

Path = tuple[str | int, ...]


def strings(value: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    """Every string in ``value`` (dicts, lists, nested) with its path, in document order; keys are not values."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from strings(item, (*path, i))


def replaced(value: Any, changes: dict[Path, str]) -> Any:
    """A deep copy of ``value`` with the strings at ``changes``' paths replaced."""
    out = copy.deepcopy(value)
    for path, text in changes.items():
        if not path:
            return text
        holder = out
        for part in path[:-1]:
            holder = holder[part]
        holder[path[-1]] = text
    return out


def dotted(path: Path) -> str:
    """``("applicant", "names", 0)`` as ``applicant.names[0]`` (for messages; never the text itself)."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "value"


def word_count(text: str) -> int:
    """Whitespace-separated words in ``text``."""
    return len(text.split())
