"""The fraud policy: ``policy.yaml`` deep-merged with a spec's ``config`` overrides."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

POLICY_PATH = Path(__file__).parent / "policy.yaml"


def _merge(base: dict, override: dict, path: str = "") -> dict:
    for key, value in override.items():
        if key not in base:
            raise ValueError(f"unknown fraud policy key {path + key!r}")
        if isinstance(base[key], dict) and isinstance(value, dict):
            _merge(base[key], value, f"{path}{key}.")
        else:
            base[key] = value
    return base


def load_policy(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The default policy with ``overrides`` applied key by key.

    Raises:
        ValueError: an override names a key the policy does not have, or the triage
            thresholds are not ordered ``0 <= step_up <= block <= 100``.
    """
    with open(POLICY_PATH, encoding="utf-8") as fh:
        policy = yaml.safe_load(fh)
    policy = _merge(copy.deepcopy(policy), overrides or {})
    t = policy["triage"]
    if not 0 <= t["step_up_min_score"] <= t["block_min_score"] <= 100:
        raise ValueError("fraud policy needs 0 <= triage.step_up_min_score <= triage.block_min_score <= 100")
    return policy
