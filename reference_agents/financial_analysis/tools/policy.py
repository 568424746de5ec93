"""The agent's policy (``policy.yaml``) with per-spec overrides."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from reference_agents.common.config import deep_merge

POLICY_FILE = Path(__file__).resolve().parent.parent / "policy.yaml"


@lru_cache(maxsize=1)
def _default_policy() -> dict:
    return yaml.safe_load(POLICY_FILE.read_text(encoding="utf-8"))


def load_policy(overrides: dict | None = None) -> dict:
    """The default policy with ``overrides`` merged in (nested mappings merge key by key).

    Raises:
        ValueError: an override names a top-level section the policy does not have.
    """
    base = _default_policy()
    unknown = set(overrides or {}) - set(base)
    if unknown:
        raise ValueError(f"unknown policy section(s) {sorted(unknown)}; known: {sorted(base)}")
    return deep_merge(base, overrides or {})
