"""Demo traffic (the real German Credit applications) and the demo underwriter's documented rule."""

from __future__ import annotations

from typing import Mapping

from reference_agents.credit_underwriting.review import UnderwriterAnswer
from reference_agents.credit_underwriting.tools.data import LABEL, load_rows

DEMO_UNDERWRITER = "demo-underwriter-01"
DEMO_APPROVE_BELOW_PD_PCT = 9.0


def sample_inputs(n: int) -> list[dict]:
    """Up to ``n`` run inputs, the first ``n`` applications in file order.

    Each is the 20 attributes plus ``application_id`` (row index) so a caller can compare
    the decision with :func:`~reference_agents.credit_underwriting.tools.data.labels`; the
    label itself is never part of an input.
    """
    return [
        {"application_id": i, **{k: v for k, v in r.items() if k != LABEL}}
        for i, r in enumerate(load_rows()[: max(n, 0)])
    ]


def resume_value(interrupt_request: Mapping, run_input: Mapping) -> dict:
    """The demo underwriter's answer: approve a referral when its PD is below 9 %, else decline.

    9 % (population PD; about 45 % on the data's 30 %-bad sample scale) lies inside the policy's
    grey band (7.5-13 %), so referrals split between both outcomes; referrals for other reasons
    (amount, unemployment) with a low PD are approved.
    ``run_input`` is unused: the underwriter decides on what the referral shows.

    Args:
        interrupt_request: the ``credit_referral`` request (JSON); reads ``context.pd_pct``.

    Returns:
        a valid :class:`~reference_agents.credit_underwriting.review.UnderwriterAnswer` as JSON.
    """
    pd_pct = interrupt_request["context"]["pd_pct"]
    return UnderwriterAnswer(
        decision="approve" if pd_pct < DEMO_APPROVE_BELOW_PD_PCT else "decline",
        reviewer=DEMO_UNDERWRITER,
        note=f"demo rule: approve if PD < {DEMO_APPROVE_BELOW_PD_PCT:g}% (PD {pd_pct:.1f}%)",
    ).model_dump()
