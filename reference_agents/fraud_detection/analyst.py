"""The analyst's resume value after a high-risk interrupt, and how it settles the decision."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from reference_agents.fraud_detection.tools.triage import AUTO_CLOSE, BLOCK


class AnalystDecision(BaseModel):
    """Resume value: ``{"disposition": "fraud"|"legitimate", "analyst": "...", "note": "..."}``.

    Raises (on ``model_validate``): ``pydantic.ValidationError`` naming the bad field.
    """

    model_config = ConfigDict(extra="forbid")
    disposition: Literal["fraud", "legitimate"]
    analyst: str = Field(min_length=1, max_length=128)
    note: str = Field(default="", max_length=2000)


def settle(review: AnalystDecision) -> tuple[str, str]:
    """The final action and reason code for an analyst's disposition: a confirmed fraud is
    blocked, a false positive released (the alert closed)."""
    if review.disposition == "fraud":
        return BLOCK, "ANALYST_CONFIRMED_FRAUD"
    return AUTO_CLOSE, "ANALYST_CONFIRMED_LEGITIMATE"
