"""The one human-in-the-loop contract of every Shipway agent.

A node that needs a person calls :func:`ask_human`. The ``interrupt()`` payload is an
:class:`InterruptRequest`: the question, the allowed decisions, the JSON Schema a valid answer
must satisfy (generated from the agent's answer model), the facts the reviewer needs, and the
reasons for asking with their policy text. The gateway validates a resume value against
``answer_schema`` before it reaches the run, and the console renders the request as a form
(one button per decision, one empty field per other property), so neither guesses an agent's
shape. An answer the node still refuses (e.g. a reference that is not one of the candidates) is
never fatal: the node interrupts again with the same request plus ``error`` naming the field,
and the thread stays resumable.

Answers extend :class:`ReviewAnswer`: ``decision`` (one of the allowed decisions, declared by the
subclass as a ``Literal``), ``reviewer`` (who decides) and ``note``. Modelled on LangGraph's
prebuilt interrupt types (``HumanInterrupt`` / ``HumanResponse``), with domain decisions instead of
accept/edit/ignore.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from langgraph.types import interrupt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

A = TypeVar("A", bound="ReviewAnswer")


class ReviewAnswer(BaseModel):
    """Base of every answer to an interrupt. Subclasses narrow ``decision`` to a ``Literal`` of the
    allowed decisions and may add fields."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    decision: str = Field(description="One of the request's allowed decisions.")
    reviewer: str = Field(min_length=1, max_length=200, pattern=r"\w", description="Who decides (user id or e-mail).")
    note: str = Field(default="", max_length=2000, description="Why, in the reviewer's words.")


class ReasonText(BaseModel):
    """Why a person is asked: a machine-readable reason code and the policy text behind it."""

    code: str
    text: str


class InterruptRequest(BaseModel):
    """The ``interrupt()`` payload of every Shipway agent (JSON).

    Attributes:
        kind: what is asked, e.g. ``credit_referral``.
        question: one sentence for the reviewer.
        decisions: allowed values of the answer's ``decision``.
        answer_schema: JSON Schema of a valid answer (the answer model's ``model_json_schema()``).
        context: the facts the reviewer needs (JSON).
        reasons: why the case needs a person, with their policy text.
        error: why the previous answer was refused, naming the field; ``None`` on the first ask.
    """

    kind: str
    question: str
    decisions: list[str]
    answer_schema: dict[str, Any]
    context: dict[str, Any] = Field(default_factory=dict)
    reasons: list[ReasonText] = Field(default_factory=list)
    error: str | None = None


def reason_texts(texts: Mapping[str, str], codes: list[str]) -> list[ReasonText]:
    """The reasons for ``codes`` with their policy text, from a policy's ``{code: text}`` table.

    Raises:
        KeyError: a code has no text (every reason a reviewer sees must be explained).
    """
    missing = [c for c in codes if c not in texts]
    if missing:
        raise KeyError(f"no policy text for reason code(s) {', '.join(missing)}")
    return [ReasonText(code=c, text=texts[c]) for c in codes]


def decisions_of(answer_model: type[ReviewAnswer]) -> list[str]:
    """The allowed decisions of an answer model: the arguments of its ``decision`` ``Literal``.

    Raises:
        TypeError: ``decision`` is not declared as a ``Literal`` of strings.
    """
    annotation = answer_model.model_fields["decision"].annotation
    if typing.get_origin(annotation) is not typing.Literal:
        raise TypeError(f"{answer_model.__name__}.decision must be a Literal of the allowed decisions")
    return [str(v) for v in typing.get_args(annotation)]


def validation_message(exc: ValidationError) -> str:
    """pydantic's errors as one line, each prefixed with the field path (``decision: Input should be ...``)."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'answer'}: {e['msg']}" for e in exc.errors())


def build_request(kind: str, question: str, answer_model: type[ReviewAnswer], context: Mapping[str, Any],
                  reasons: list[ReasonText] | None = None) -> InterruptRequest:
    """The request for ``answer_model``: allowed decisions and answer schema taken from the model."""
    return InterruptRequest(kind=kind, question=question, decisions=decisions_of(answer_model),
                            answer_schema=answer_model.model_json_schema(), context=dict(context),
                            reasons=list(reasons or []))


def parse_answer(answer_model: type[A], value: object, check: Callable[[A], None] | None = None) -> A:
    """Validate one resume value.

    Args:
        answer_model: the agent's :class:`ReviewAnswer` subclass.
        value: the resume value as it arrived.
        check: further rules the model cannot express; raises ``ValueError`` naming the field.

    Raises:
        ValueError: the value is invalid; the message names each offending field.
    """
    try:
        answer = answer_model.model_validate(value)
    except ValidationError as exc:
        raise ValueError(validation_message(exc)) from exc
    if check is not None:
        check(answer)
    return answer


def ask_human(request: InterruptRequest, answer_model: type[A], check: Callable[[A], None] | None = None) -> A:
    """Interrupt with ``request`` until a valid answer arrives; returns it.

    Each refused answer is followed by a new ``interrupt()`` carrying the same request with
    ``error`` set (LangGraph matches resume values to a node's interrupts by position, so the
    refused answer stays recorded and the next resume answers the new interrupt).
    """
    payload = request.model_dump(mode="json")
    while True:
        try:
            return parse_answer(answer_model, interrupt(payload), check)
        except ValueError as exc:
            payload = {**payload, "error": str(exc)}
