"""An agent's declarative policy: its ``policy.yaml`` with a spec's ``config`` overrides merged in."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml


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


def unknown_keys(base: Mapping, override: Mapping, open_keys: tuple[str, ...] = (), prefix: str = "") -> list[str]:
    """Dotted paths of keys in ``override`` that ``base`` does not have, at every level where both
    are mappings (a typo in an override would otherwise silently keep the default). Mappings named
    in ``open_keys`` (dotted paths, e.g. ``screening.name_variants``) take new keys."""
    out = []
    for key, value in override.items():
        path = f"{prefix}{key}"
        if key not in base:
            out.append(path)
        elif isinstance(value, Mapping) and isinstance(base[key], Mapping) and base[key] and path not in open_keys:
            out.extend(unknown_keys(base[key], value, open_keys, path + "."))
    return out


@lru_cache(maxsize=16)
def _read(path: Path) -> dict:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def load_policy(path: Path, overrides: Mapping[str, Any] | None = None, open_keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """The policy in ``path`` (YAML) with ``overrides`` deep-merged; a fresh copy each call.

    Args:
        path: the agent's ``policy.yaml``.
        overrides: a spec's ``config``.
        open_keys: dotted paths of mappings whose entries a spec may add to (e.g. a table of name variants).

    Raises:
        ValueError: ``overrides`` names keys the policy does not have (each as a dotted path).
        OSError, yaml.YAMLError: the file cannot be read or parsed.
    """
    base = _read(Path(path))
    overrides = overrides or {}
    if unknown := unknown_keys(base, overrides, open_keys):
        raise ValueError(f"unknown policy key(s) {', '.join(unknown)} in {Path(path).name}")
    return deep_merge(base, overrides)
