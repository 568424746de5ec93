"""Merging a spec's ``config`` overrides into an agent's declarative policy."""

from __future__ import annotations

import copy
from collections.abc import Mapping


def deep_merge(base: Mapping, override: Mapping) -> dict:
    """A new dict: ``base`` with ``override`` merged in; nested mappings merge key by key,
    any other value replaces. Neither argument is modified."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
