"""The compiled graph end to end: intake, checklist, the officer's interrupt and resume, summary."""

from __future__ import annotations

import asyncio

import pytest
from langgraph.types import Command
from pydantic import ValidationError

from loan_checklist.graph import graph as exported_graph

ROW_2_DOCUMENTS = ["ID_DOCUMENT", "SELF_DISCLOSURE", "PAYSLIPS_3M", "EXTERNAL_ACCOUNT_STATEMENTS_3M",
                   "EXISTING_CREDIT_AGREEMENTS", "ENROLMENT_LETTER"]


def pending(graph, thread) -> list[dict]:
    """Payloads of the thread's pending interrupts."""
    return [i.value for i in graph.get_state(thread).interrupts]


def test_a_standard_application_finishes_without_review(graph, thread, app):
    out = graph.invoke(app(3), thread)  # guarantor, furniture: no high-scrutiny rule
    assert "__interrupt__" not in out
    assert out["high_scrutiny"] is False and out["officer_answer"] is None and out["high_scrutiny_reasons"] == []
    assert out["application_id"] == 3 and out["checklist_version"] == "2026.1"
    assert [d["status"] for d in out["documents"]] == ["outstanding"] * 10
    assert out["outstanding"] == [d["code"] for d in out["documents"]]
    assert out["ready_for_underwriting"] is False
    guarantee = next(d for d in out["documents"] if d["code"] == "GUARANTEE_AGREEMENT")
    assert guarantee["reasons"] == [{"code": "GUARANTOR", "text": guarantee["reasons"][0]["text"]}]


def test_documents_on_file_make_a_standard_application_ready(graph, thread, app):
    required = [d["code"] for d in graph.invoke(app(3), thread)["documents"]]
    on_file = {**app(3), "documents_on_file": list(reversed(required)) + ["ID_DOCUMENT"]}  # any order, duplicates
    out = graph.invoke(on_file, {"configurable": {"thread_id": "on-file"}})
    assert out["outstanding"] == [] and out["ready_for_underwriting"] is True
    assert {d["status"] for d in out["documents"]} == {"received"}


def test_a_document_on_file_that_is_not_required_changes_nothing(graph, thread, app):
    out = graph.invoke({**app(3), "documents_on_file": ["BUSINESS_PLAN"]}, thread)
    assert "BUSINESS_PLAN" not in [d["code"] for d in out["documents"]]
    assert out["ready_for_underwriting"] is False


def test_a_high_scrutiny_application_interrupts_with_the_contract_payload(graph, thread, app):
    out = graph.invoke({**app(2), "documents_on_file": ["ID_DOCUMENT"]}, thread)
    (payload,) = [i.value for i in out["__interrupt__"]]
    assert set(payload) == {"kind", "question", "decisions", "answer_schema", "context", "reasons", "error"}
    assert payload["kind"] == "loan_document_review" and payload["error"] is None
    assert payload["decisions"] == ["confirm", "request_more"]
    schema = payload["answer_schema"]
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert schema["required"] == ["decision", "reviewer"]
    assert schema["properties"]["decision"]["enum"] == payload["decisions"]
    assert schema["properties"]["reviewer"]["minLength"] == 1
    assert schema["properties"]["note"]["type"] == "string"
    assert schema["properties"]["received"]["items"]["enum"] == ROW_2_DOCUMENTS
    assert payload["reasons"] == [{"code": "NO_CURRENT_ACCOUNT_AT_BANK", "text": payload["reasons"][0]["text"]}]
    ctx = payload["context"]
    assert (ctx["application_id"], ctx["purpose"], ctx["credit_amount_dm"]) == (2, "education", 2096)
    assert [d["code"] for d in ctx["required_documents"]] == ROW_2_DOCUMENTS
    assert ctx["documents_on_file"] == ["ID_DOCUMENT"] and ctx["checklist_version"] == "2026.1"
    assert pending(graph, thread) == [payload]


def test_resume_with_confirm_makes_the_file_ready(graph, thread, app):
    graph.invoke(app(2), thread)
    answer = {"decision": "confirm", "reviewer": "officer-7", "note": "originals seen",
              "received": list(reversed(ROW_2_DOCUMENTS))}
    out = graph.invoke(Command(resume=answer), thread)
    assert "__interrupt__" not in out and pending(graph, thread) == []
    assert out["ready_for_underwriting"] is True and out["outstanding"] == []
    assert out["officer_answer"] == {**answer, "received": ROW_2_DOCUMENTS}  # checklist order
    assert out["high_scrutiny"] is True
    assert [r["code"] for r in out["high_scrutiny_reasons"]] == ["NO_CURRENT_ACCOUNT_AT_BANK"]


def test_resume_with_request_more_lists_what_is_outstanding(graph, thread, app):
    graph.invoke(app(18), thread)  # 12,579 DM: above the scrutiny threshold
    out = graph.invoke(Command(resume={"decision": "request_more", "reviewer": "officer-7",
                                       "received": ["ID_DOCUMENT", "SELF_DISCLOSURE", "TAX_ASSESSMENTS_2Y"]}), thread)
    assert out["ready_for_underwriting"] is False
    assert out["outstanding"] == ["CURRENT_ACCOUNT_STATEMENTS_3M", "VEHICLE_REGISTRATION_II", "VEHICLE_PURCHASE_QUOTE",
                                  "ASSETS_LIABILITIES_STATEMENT"]
    assert out["officer_answer"]["note"] == ""


def test_the_officer_is_asked_again_after_an_invalid_answer(graph, thread, app):
    first = graph.invoke(app(2), thread)["__interrupt__"][0].value
    refused = [
        ({"decision": "approve", "reviewer": "officer-7"}, "decision: Input should be 'confirm' or 'request_more'"),
        ({"decision": "confirm"}, "reviewer: Field required"),
        ({"decision": "confirm", "reviewer": "   "}, "reviewer: String should have at least 1 character"),
        ({"decision": "request_more", "reviewer": "o", "received": ["BUSINESS_PLAN"]}, "received.0: Input should be"),
        ({"decision": "request_more", "reviewer": "o", "extra": 1}, "extra: Extra inputs are not permitted"),
        ("yes", "answer: Input should be a valid dictionary"),
        ({"decision": "confirm", "reviewer": "officer-7", "received": ["ID_DOCUMENT"]},
         "received: 'confirm' needs every required document; outstanding: SELF_DISCLOSURE"),
    ]
    for value, error in refused:
        out = graph.invoke(Command(resume=value), thread)
        (payload,) = [i.value for i in out["__interrupt__"]]
        assert payload["error"].startswith(error), payload["error"]
        assert {**payload, "error": None} == first  # the same request, only the error differs
        assert "ready_for_underwriting" not in out
    out = graph.invoke(Command(resume={"decision": "confirm", "reviewer": "officer-7", "received": ROW_2_DOCUMENTS}),
                       thread)
    assert out["ready_for_underwriting"] is True and out["officer_answer"]["reviewer"] == "officer-7"


def test_an_invalid_input_fails_the_run_naming_the_field(graph, thread, app):
    for change, field in [({"purpose": "holiday"}, "purpose"), ({"credit_amount": 0}, "credit_amount"),
                          ({"documents_on_file": ["PASSPORT_PHOTO"]}, "documents_on_file.0")]:
        with pytest.raises(ValidationError) as err:
            graph.invoke({**app(0), **change}, {"configurable": {"thread_id": f"bad-{field}"}})
        assert [".".join(map(str, e["loc"])) for e in err.value.errors()] == [field]
    bad = app(0)
    del bad["job"]
    with pytest.raises(ValidationError, match="job"):
        graph.invoke(bad, thread)


def test_the_async_api_interrupts_and_resumes_the_same_way(graph, thread, app):
    # Shipway and `langgraph dev` drive graphs through the async API.
    async def run():
        first = await graph.ainvoke(app(2), thread)
        done = await graph.ainvoke(Command(resume={"decision": "confirm", "reviewer": "o",
                                                   "received": ROW_2_DOCUMENTS}), thread)
        return first, done

    first, done = asyncio.run(run())
    assert first["__interrupt__"][0].value["kind"] == "loan_document_review"
    assert done["ready_for_underwriting"] is True


def test_the_exported_graph_runs_without_a_checkpointer(app):
    # langgraph.json's graph: compiled without a checkpointer; the server (or Shipway) attaches one.
    assert exported_graph.checkpointer is None
    out = exported_graph.invoke(app(3))
    assert out["application_id"] == 3 and out["high_scrutiny"] is False
    assert set(exported_graph.get_graph().nodes) == {"__start__", "intake", "checklist", "officer_review", "summary",
                                                     "__end__"}


def test_all_samples_run(graph, thread):
    import json
    from pathlib import Path

    samples = json.loads((Path(__file__).resolve().parent.parent / "samples" / "inputs.json").read_text())
    for sample in samples:
        config = {"configurable": {"thread_id": f"sample-{sample['application_id']}"}}
        out = graph.invoke(sample, config)
        if "__interrupt__" in out:
            codes = out["__interrupt__"][0].value["answer_schema"]["properties"]["received"]["items"]["enum"]
            out = graph.invoke(Command(resume={"decision": "confirm", "reviewer": "demo", "received": codes}), config)
        assert out["application_id"] == sample["application_id"]
        assert out["ready_for_underwriting"] is out["high_scrutiny"]  # nothing on file: only a confirmed review is ready
