"""The loan officer's review: the interrupt payload, the answer model, and the ask-until-valid loop.

The payload is plain JSON in the shape Shipway's console and gateway render (nothing is imported
from Shipway): ``kind``, ``question``, ``decisions``, ``answer_schema`` (JSON Schema of a valid
answer), ``context`` (facts the officer needs), ``reasons`` (why the officer is asked) and
``error`` (why the previous answer was refused, naming the field; null on the first ask).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from langgraph.types import interrupt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from loan_checklist.rules import Reason, RequiredDocument

KIND = "loan_document_review"
DECISIONS = ("confirm", "request_more")


class OfficerAnswer(BaseModel):
    """A loan officer's answer (the resume value).

    Example: ``{"decision": "confirm", "reviewer": "officer-7", "note": "originals seen",
    "received": ["ID_DOCUMENT", "SELF_DISCLOSURE", ...]}``. :func:`answer_model` narrows
    ``received`` to the documents of one application.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, title="OfficerAnswer")
    decision: Literal["confirm", "request_more"] = Field(
        description="confirm: every required document is received, the file goes to underwriting; "
                    "request_more: the applicant is asked for the outstanding documents.")
    reviewer: str = Field(min_length=1, max_length=200, description="Who answers (user id or e-mail).")
    note: str = Field(default="", max_length=2000, description="Free text, e.g. what was checked.")
    received: list[str] = Field(default_factory=list, description="Codes of the required documents received.")


def answer_model(required: Sequence[str]) -> type[OfficerAnswer]:
    """:class:`OfficerAnswer` whose ``received`` accepts only the codes in ``required`` (an enum in
    its JSON Schema, so a form can offer one checkbox per document)."""
    code = Literal[tuple(required)]  # type: ignore[valid-type]
    return create_model(
        "OfficerAnswer", __base__=OfficerAnswer,
        received=(list[code], Field(default_factory=list, description="Codes of the required documents received.")))


def review_request(application: dict[str, Any], documents: list[RequiredDocument], reasons: list[Reason],
                   documents_on_file: list[str], checklist_version: str) -> dict[str, Any]:
    """The ``interrupt()`` payload asking the officer which documents were received.

    Args:
        application: the normalised application (intake; no protected attributes).
        documents: the required documents (checklist node).
        reasons: the high-scrutiny rules that fired: why the officer is asked.
        documents_on_file: codes the input said the bank already holds.
        checklist_version: ``version`` of the applied checklist.yaml.

    Returns:
        a JSON-serialisable dict with ``error`` None; amounts in ``context`` are DM, terms months.
    """
    return {
        "kind": KIND,
        "question": (f"Application {application.get('application_id')}: which of the required documents have you "
                     "received? Answer 'confirm' when all are in, or 'request_more' to ask the applicant for the rest."),
        "decisions": list(DECISIONS),
        "answer_schema": answer_model([d.code for d in documents]).model_json_schema(),
        "context": {
            "application_id": application.get("application_id"),
            "purpose": application["purpose"],
            "credit_amount_dm": application["credit_amount"],
            "duration_in_month": application["duration_in_month"],
            "other_debtors_or_guarantors": application["other_debtors_or_guarantors"],
            "checklist_version": checklist_version,
            "required_documents": [{"code": d.code, "title": d.title, "high_scrutiny": d.high_scrutiny}
                                   for d in documents],
            "documents_on_file": list(documents_on_file),
        },
        "reasons": [r.model_dump() for r in reasons],
        "error": None,
    }


def check_answer(answer: OfficerAnswer, required: Sequence[str]) -> None:
    """Rules a JSON Schema cannot express.

    Raises:
        ValueError: ``confirm`` while documents are outstanding; the message names ``received``.
    """
    missing = [code for code in required if code not in answer.received]
    if answer.decision == "confirm" and missing:
        raise ValueError(f"received: 'confirm' needs every required document; outstanding: {', '.join(missing)} "
                         "(answer 'request_more' to ask the applicant for them)")


def ask_officer(request: dict[str, Any], required: Sequence[str]) -> OfficerAnswer:
    """Interrupt with ``request`` until a valid answer arrives, and return it.

    A refused answer never raises: the node interrupts again with the same request and ``error``
    naming the field. LangGraph matches resume values to a node's ``interrupt()`` calls by
    position, so on each resume the node re-runs, replays the earlier (refused) answers, and
    reaches the new interrupt; the thread stays resumable.
    """
    model = answer_model(required)
    payload = request
    while True:
        value = interrupt(payload)
        try:
            answer = model.model_validate(value)
            check_answer(answer, required)
            return answer
        except ValidationError as exc:
            payload = {**request, "error": _message(exc)}
        except ValueError as exc:
            payload = {**request, "error": str(exc)}


def _message(exc: ValidationError) -> str:
    # "field: problem" per error, so the console can point at the field.
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'answer'}: {e['msg']}" for e in exc.errors())
