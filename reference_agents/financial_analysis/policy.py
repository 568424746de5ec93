"""The agent's declarative policy: ``policy.yaml`` merged with the spec's ``config`` overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reference_agents.common import policy as common_policy

POLICY_PATH = Path(__file__).resolve().parent / "policy.yaml"
# A spec may weight further signal codes.
OPEN_KEYS = ("signals.weights",)


def load_policy(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """``policy.yaml`` with ``overrides`` merged in (nested mappings merge key by key); a fresh copy.

    Args:
        overrides: the spec's ``config``, e.g. ``{"signals": {"rsi_oversold_below": 25}}``.

    Raises:
        ValueError: an override names a key the policy does not have (a typo would otherwise
            silently keep the default).
    """
    return common_policy.load_policy(POLICY_PATH, overrides, open_keys=OPEN_KEYS)
