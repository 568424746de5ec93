"""The analyst's review of potential watchlist matches: the answer model and the interrupt request.

Every potential match -- strong and exact ones included -- goes to an analyst: sanctions practice
has a human confirm a true match before assets are blocked, and an exact name alone is not
identity (namesakes). Each screened party with potential matches is asked about on its own: the
customer first, then each transaction counterparty. The candidates carry how their score was
made (name score, alias quality, common-name penalty, date-of-birth and country evidence) and
``identifiers_agree`` to help the analyst.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, create_model

from reference_agents.common.hitl import InterruptRequest, ReviewAnswer, build_request, reason_texts
from reference_agents.compliance_monitoring.policy import REVIEW_CODES

KIND = "watchlist_potential_match"
QUESTION = (
    "Is the screened party the listed party? Answer true_match (reference_number names the confirmed "
    "candidate; without it the best-scoring candidate is confirmed) or false_positive."
)
_REFERENCE_HELP = "The confirmed candidate's list reference; none with true_match confirms the best-scoring one."


class MatchAnswer(ReviewAnswer):
    """The analyst's answer on a case's watchlist candidates (the interrupt's resume value).

    decision: true_match (the screened party is the listed party; the case is blocked) or
    false_positive (a different party, e.g. a namesake). reviewer: the analyst. note: why.
    reference_number: the confirmed candidate's list reference, one of the case's candidates;
    none with true_match confirms the best-scoring candidate.
    """

    decision: Literal["true_match", "false_positive"] = Field(
        description="true_match: the screened party is the listed party; false_positive: it is not.")
    reference_number: str | None = Field(default=None, description=_REFERENCE_HELP)


def answer_model(candidate_refs: list[str]) -> type[MatchAnswer]:
    """:class:`MatchAnswer` narrowed to one case: ``reference_number`` must be one of ``candidate_refs``.

    The narrowing is a ``Literal`` so that the request's ``answer_schema`` lists the candidates
    (``enum``; pydantic writes ``const`` for a single one) and the gateway refuses any other
    reference before it reaches the run.

    Args:
        candidate_refs: the case's candidate reference numbers, best first (at least one).
    """
    return create_model(
        "MatchAnswer",
        __base__=MatchAnswer,
        __doc__=MatchAnswer.__doc__,
        reference_number=(Literal[tuple(candidate_refs)] | None, Field(default=None, description=_REFERENCE_HELP)),
    )


def review_request(state: Mapping[str, Any], party: Mapping[str, Any] | None, policy: Mapping[str, Any],
                   model: type[MatchAnswer]) -> InterruptRequest:
    """The request shown to the analyst for one screened party's candidates.

    Args:
        state: the run state (customer facts, ``screening``).
        party: a counterparty screening (``counterparty_name``, ``counterparty_country``,
            ``transaction_ids``, ``candidates``), or ``None`` for the customer.
        policy: the agent's policy (``reason_texts``).
        model: the case's answer model (:func:`answer_model`).

    ``context`` holds ``party`` (``customer`` | ``counterparty``), the screened party's facts
    (customer: ``customer_id``, ``screened_name``, ``party_type``, ``date_of_birth``,
    ``nationality``; counterparty: ``screened_name``, ``country``, ``transaction_ids``), the
    thresholds (0-100), the lists used (``lists``: source, date generated, SHA-256, age, stale)
    and the ``candidates`` as screened; ``reasons`` the review codes with their text from
    ``policy["reason_texts"]``.
    """
    screening = state["screening"]
    if party is None:
        facts = {"party": "customer", "customer_id": state.get("customer_id"), "screened_name": screening["screened_name"],
                 "party_type": state.get("party_type"), "date_of_birth": state.get("date_of_birth"),
                 "nationality": state.get("nationality")}
        candidates = screening["candidates"]
    else:
        facts = {"party": "counterparty", "customer_id": state.get("customer_id"),
                 "screened_name": party["counterparty_name"], "country": party["counterparty_country"],
                 "transaction_ids": party["transaction_ids"]}
        candidates = party["candidates"]
    context = {
        **facts,
        "review_threshold_0_100": screening["review_threshold"],
        "strong_match_threshold_0_100": screening["strong_match_threshold"],
        "lists": screening["lists"],
        "candidates": candidates,
    }
    reasons = reason_texts(policy["reason_texts"], list(REVIEW_CODES))
    return build_request(KIND, QUESTION, model, context, reasons)


def recorded_review(answer: MatchAnswer, candidate_refs: list[str]) -> dict:
    """The answer as the run records it (JSON).

    Returns:
        The answer's fields, with ``reference_number`` set to the best candidate
        (``candidate_refs[0]``) for a ``true_match`` that named none, plus
        ``candidate_reference_numbers`` (the candidates the analyst saw).
    """
    review = answer.model_dump()
    if review["decision"] == "true_match" and review["reference_number"] is None:
        review["reference_number"] = candidate_refs[0]
    review["candidate_reference_numbers"] = list(candidate_refs)
    return review
