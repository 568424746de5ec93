"""The fraud policy: ``policy.yaml`` with a spec's ``config`` overrides deep-merged, then checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, get_args

from reference_agents.common.policy import load_policy as load_policy_file
from reference_agents.fraud_detection.inputs import Channel
from reference_agents.fraud_detection.tools.rules import RULE_CODES
from reference_agents.fraud_detection.tools.scoring import MODEL_CODES

POLICY_PATH = Path(__file__).resolve().parent / "policy.yaml"
REASON_CODES = RULE_CODES + MODEL_CODES  # every code a risk assessment can carry


def load_policy(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The default policy with ``overrides`` (an agent spec's ``config``) deep-merged; a fresh copy.

    Returns:
        the policy as plain JSON: ``rules``, ``model``, ``triage`` and ``reasons`` (code -> text).

    Raises:
        ValueError: an override names a key the policy does not have (dotted path in the message),
            the triage thresholds are not ordered ``0 <= step_up <= block <= 100``, a step-up
            method is empty, the impossible-travel rule names an unknown channel, or a reason
            code has no text.
    """
    policy = load_policy_file(POLICY_PATH, overrides)
    t = policy["triage"]
    if not 0 <= t["step_up_min_score"] <= t["block_min_score"] <= 100:
        raise ValueError("fraud policy needs 0 <= triage.step_up_min_score <= triage.block_min_score <= 100")
    if empty := [channel for channel, method in t["step_up_method"].items() if not method]:
        raise ValueError(f"fraud policy needs a triage.step_up_method for {', '.join(empty)}")
    if unknown := set(policy["rules"]["impossible_travel"]["channels"]) - set(get_args(Channel)):
        raise ValueError(f"rules.impossible_travel.channels: unknown channel(s) {', '.join(sorted(unknown))}")
    if missing := [code for code in REASON_CODES if not policy["reasons"].get(code)]:
        raise ValueError(f"fraud policy needs a text under reasons for {', '.join(missing)}")
    return policy
