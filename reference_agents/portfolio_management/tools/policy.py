"""The agent's declarative policy (``policy.yaml``) with the spec's config overrides."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from reference_agents.common.config import deep_merge

POLICY_PATH = Path(__file__).resolve().parent.parent / "policy.yaml"


@lru_cache(maxsize=1)
def _default_policy() -> dict[str, Any]:
    with POLICY_PATH.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def load_policy(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The policy: ``policy.yaml`` deep-merged with ``overrides`` (the spec's ``config``).

    Raises:
        KeyError: an override names a top-level section the policy does not have
            (a typo would otherwise be silently ignored).
    """
    base = _default_policy()
    overrides = overrides or {}
    unknown = sorted(set(overrides) - set(base))
    if unknown:
        raise KeyError(f"unknown portfolio policy key(s) {unknown}; known: {sorted(base)}")
    return deep_merge(base, overrides)
