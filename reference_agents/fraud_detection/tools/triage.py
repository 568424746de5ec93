"""Triage of a scored alert: auto-close, step-up authentication, or block, by policy thresholds.

A step-up asks for the authentication the channel can give (``policy.yaml`` ``triage.step_up_method``):
chip and PIN at a terminal, an EMV 3-D Secure challenge online, a call back from the issuer for a
mail/phone order or at an ATM (where the PIN was already entered).
"""

from __future__ import annotations

AUTO_CLOSE, STEP_UP, BLOCK = "auto_close", "step_up", "block"


def triage(risk_score: float, channel: str, triage_policy: dict) -> dict:
    """The policy action for a risk score.

    Args:
        risk_score: 0-100 (a ranking score, not a probability).
        channel: the transaction's channel, to pick the step-up method (e.g. ``3ds_challenge`` for
            e-commerce, ``chip_and_pin`` for card-present).
        triage_policy: the policy's ``triage`` section.

    Returns:
        ``{"action": "auto_close"|"step_up"|"block", "step_up_method": the channel's method for a
        step_up, else None,
        "analyst_review": bool}``: ``block`` at or above ``block_min_score``, ``step_up`` at or
        above ``step_up_min_score``; an analyst reviews at or above ``analyst_review_min_score``.
    """
    if risk_score >= triage_policy["block_min_score"]:
        action = BLOCK
    elif risk_score >= triage_policy["step_up_min_score"]:
        action = STEP_UP
    else:
        action = AUTO_CLOSE
    return {
        "action": action,
        "step_up_method": triage_policy["step_up_method"][channel] if action == STEP_UP else None,
        "analyst_review": risk_score >= triage_policy["analyst_review_min_score"],
    }
