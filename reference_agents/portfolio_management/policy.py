"""The agent's declarative policy: ``policy.yaml`` merged with the spec's ``config`` overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reference_agents.common import policy as common_policy

POLICY_PATH = Path(__file__).resolve().parent / "policy.yaml"
# Reason codes that send a proposal to a portfolio manager; each needs its text in ``reason_texts``.
REVIEW_CODES = ("TURNOVER_ABOVE_LIMIT", "VAR_ABOVE_LIMIT", "CVAR_ABOVE_LIMIT")


def load_policy(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """``policy.yaml`` deep-merged with ``overrides``; a fresh copy each call.

    Args:
        overrides: the spec's ``config``, e.g. ``{"risk_limits": {"max_var_95_1d_pct": 3.0}}``.

    Raises:
        ValueError: an override names a key the policy does not have (a typo would otherwise
            silently keep the default), or a review reason code has no text.
    """
    policy = common_policy.load_policy(POLICY_PATH, overrides)
    missing = [code for code in REVIEW_CODES if not (policy["reason_texts"] or {}).get(code)]
    if missing:
        raise ValueError(f"reason_texts: no text for {', '.join(missing)}")
    return policy
