"""The graph's input and output: what a caller sends and what a finished run returns.

Both are pydantic models, so ``graph.get_input_jsonschema()`` and ``graph.get_output_jsonschema()``
publish precise JSON Schemas (types, category enums, ranges) that a gateway can validate against.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from loan_checklist.attributes import ApplicationAttributes
from loan_checklist.rules import CHECKLIST, Reason, RequiredDocument

# The document codes of the catalogue in checklist.yaml, as an enum of the JSON Schema.
DocumentCode = Literal[tuple(CHECKLIST.documents)]  # type: ignore[valid-type]


class ApplicationInput(ApplicationAttributes):
    """One consumer-credit application (German Credit attributes; amounts DM, terms months) and the
    documents the bank already holds for it. Unknown fields are refused."""

    # The docstring is the schema's description, so it stays plain prose. Example: samples/inputs.json.

    documents_on_file: list[DocumentCode] = Field(
        default_factory=list,
        description="Codes of documents the bank already holds for this application (catalogue of checklist.yaml).")


class DocumentStatus(RequiredDocument):
    """A required document and whether it has been received."""

    status: Literal["received", "outstanding"]


class OfficerAnswerRecord(BaseModel):
    """The loan officer's accepted answer to the review interrupt."""

    decision: Literal["confirm", "request_more"]
    reviewer: str
    note: str
    received: list[str]


class ChecklistResult(BaseModel):
    """The documents to collect before underwriting, with a status per document. ready_for_underwriting
    is true when every required document is received and, after an officer review, the officer confirmed."""

    application_id: int | None
    checklist_version: str = Field(description="`version` of the checklist.yaml that was applied.")
    documents: list[DocumentStatus] = Field(description="Required documents in catalogue order.")
    outstanding: list[str] = Field(description="Codes of the documents still to collect.")
    high_scrutiny: bool = Field(description="Whether a loan officer had to review the file.")
    high_scrutiny_reasons: list[Reason] = Field(description="The high-scrutiny rules that fired.")
    officer_answer: OfficerAnswerRecord | None = Field(description="The officer's accepted answer; null without review.")
    ready_for_underwriting: bool
