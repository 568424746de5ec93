"""The agent's policy (``policy.yaml``) with per-spec overrides."""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path

import yaml

POLICY_FILE = Path(__file__).resolve().parent.parent / "policy.yaml"


@lru_cache(maxsize=1)
def _default_policy() -> dict:
    return yaml.safe_load(POLICY_FILE.read_text(encoding="utf-8"))


def _merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_policy(overrides: dict | None = None) -> dict:
    """The default policy with ``overrides`` merged in (nested mappings merge key by key).

    Raises:
        ValueError: an override names a top-level section the policy does not have.
    """
    base = _default_policy()
    unknown = set(overrides or {}) - set(base)
    if unknown:
        raise ValueError(f"unknown policy section(s) {sorted(unknown)}; known: {sorted(base)}")
    return _merge(base, overrides or {})
