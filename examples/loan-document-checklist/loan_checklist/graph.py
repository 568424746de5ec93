"""The loan-document checklist graph.

    START -> intake -> checklist -> (any high-scrutiny rule fired?) -> officer_review -> summary -> END
                                                     \\ no ------------------------------> /

- ``intake``: validates the input (LangGraph builds :class:`ApplicationInput` from the run input,
  raising ``pydantic.ValidationError`` naming the field) and normalises it: protected attributes
  are dropped, ``documents_on_file`` is de-duplicated into catalogue order.
- ``checklist``: applies ``checklist.yaml`` (:mod:`loan_checklist.rules`).
- ``officer_review``: ``interrupt()`` until a loan officer gives a valid answer.
- ``summary``: status per document and ``ready_for_underwriting``.

``graph`` is compiled without a checkpointer: ``langgraph dev`` and Shipway attach their own.
Tests compile :func:`build_graph` with ``InMemorySaver`` to interrupt and resume.
"""

# No `from __future__ import annotations` here: LangGraph reads State's and the nodes' type hints at
# build time, and `langgraph dev` loads this file by path, where string annotations may not resolve.
from typing import Any, Literal

from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict  # pydantic needs typing_extensions' TypedDict on Python < 3.12

from loan_checklist.attributes import PROTECTED_ATTRIBUTES
from loan_checklist.review import ask_officer, review_request
from loan_checklist.rules import CHECKLIST, Reason, RequiredDocument
from loan_checklist.schemas import ApplicationInput, ChecklistResult


class State(TypedDict, total=False):
    """What the nodes read and write (the run input's raw attributes are separate channels that
    only ``intake`` reads)."""

    application: dict[str, Any]          # intake: validated attributes without protected ones
    documents_on_file: list[str]         # intake: catalogue order, no duplicates
    required: list[dict[str, Any]]       # checklist: RequiredDocument dicts
    scrutiny_reasons: list[dict[str, Any]]  # checklist: Reason dicts of high-scrutiny rules
    # The output (ChecklistResult); officer_answer is written by officer_review, the rest by summary.
    officer_answer: dict[str, Any] | None
    application_id: int | None
    checklist_version: str
    documents: list[dict[str, Any]]
    outstanding: list[str]
    high_scrutiny: bool
    high_scrutiny_reasons: list[dict[str, Any]]
    ready_for_underwriting: bool


def intake(application: ApplicationInput) -> dict[str, Any]:
    """Normalise the validated application.

    Returns:
        ``application``: the attributes without protected ones, so no later node can read them;
        ``documents_on_file``: de-duplicated, in catalogue order.
    """
    on_file = set(application.documents_on_file)
    return {
        "application": application.model_dump(exclude={*PROTECTED_ATTRIBUTES, "documents_on_file"}),
        "documents_on_file": [code for code in CHECKLIST.documents if code in on_file],
    }


def checklist(state: State) -> dict[str, Any]:
    """Apply the checklist rules: the required documents and the high-scrutiny reasons."""
    documents, scrutiny = CHECKLIST.evaluate(state["application"])
    return {"required": [d.model_dump() for d in documents], "scrutiny_reasons": [r.model_dump() for r in scrutiny]}


def route_after_checklist(state: State) -> Literal["officer_review", "summary"]:
    """A loan officer reviews the file when any high-scrutiny rule fired."""
    return "officer_review" if state["scrutiny_reasons"] else "summary"


def officer_review(state: State) -> dict[str, Any]:
    """Ask a loan officer which documents were received (``interrupt()``, re-asked until valid).

    Returns:
        ``officer_answer``: the accepted answer, ``received`` de-duplicated in checklist order.
    """
    documents = [RequiredDocument.model_validate(d) for d in state["required"]]
    reasons = [Reason.model_validate(r) for r in state["scrutiny_reasons"]]
    request = review_request(state["application"], documents, reasons, state["documents_on_file"], CHECKLIST.version)
    codes = [d.code for d in documents]
    answer = ask_officer(request, codes)
    return {"officer_answer": {**answer.model_dump(), "received": [c for c in codes if c in answer.received]}}


def summary(state: State) -> dict[str, Any]:
    """The final checklist.

    A document is received when the officer said so (reviewed files) or when it was on file
    (files without review). ``ready_for_underwriting``: nothing outstanding and, after a review,
    the officer confirmed.
    """
    review = state.get("officer_answer")
    received = set(review["received"] if review else state["documents_on_file"])
    documents = [{**d, "status": "received" if d["code"] in received else "outstanding"} for d in state["required"]]
    outstanding = [d["code"] for d in documents if d["status"] == "outstanding"]
    result = ChecklistResult(
        application_id=state["application"].get("application_id"),
        checklist_version=CHECKLIST.version,
        documents=documents,
        outstanding=outstanding,
        high_scrutiny=bool(state["scrutiny_reasons"]),
        high_scrutiny_reasons=state["scrutiny_reasons"],
        officer_answer=review,
        ready_for_underwriting=not outstanding and (review is None or review["decision"] == "confirm"),
    )
    return result.model_dump(mode="json")


def build_graph() -> StateGraph:
    """The uncompiled graph; compile it with a checkpointer to interrupt and resume."""
    builder = StateGraph(State, input_schema=ApplicationInput, output_schema=ChecklistResult)
    # input_schema on the node: LangGraph validates the run input into ApplicationInput here.
    builder.add_node("intake", intake, input_schema=ApplicationInput)
    builder.add_node("checklist", checklist)
    builder.add_node("officer_review", officer_review)
    builder.add_node("summary", summary)
    builder.add_edge(START, "intake")
    builder.add_edge("intake", "checklist")
    builder.add_conditional_edges("checklist", route_after_checklist, ["officer_review", "summary"])
    builder.add_edge("officer_review", "summary")
    builder.add_edge("summary", END)
    return builder


graph = build_graph().compile(name="loan_checklist")
