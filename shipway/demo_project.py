"""The example LangGraph project the demo deploys next to the reference agents:
``examples/loan-document-checklist`` (a loan-document checklist on the German Credit data), submitted
as a user submits theirs, with its sample inputs and the demo loan officer's rule."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from activities.artifact_store import ArtifactStore
from shipway.projects import project_spec, upload_project

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "loan-document-checklist"
KEY = EXAMPLE.name
DEMO_OFFICER = "demo-loan-officer"


def spec(store: ArtifactStore) -> dict:
    """Upload the example's source archive and return its spec (``shipway.yaml`` + source).

    Raises:
        activities.langgraph_project.ProjectError: the example is missing or broken.
    """
    sha, project = upload_project(store, EXAMPLE)
    return project_spec(project, sha)


def sample_inputs(n: int) -> list[dict]:
    """Up to ``n`` of the example's 30 real applications (``samples/inputs.json``)."""
    return json.loads((EXAMPLE / "samples" / "inputs.json").read_text())[:n]


def resume_value(request: dict, run_input: dict) -> dict:
    """The demo loan officer: every required document has arrived, so confirm the file."""
    received = [d["code"] for d in request["context"]["required_documents"]]
    return {"decision": "confirm", "reviewer": DEMO_OFFICER, "received": received,
            "note": "demo rule: the applicant delivered every required document"}


def summarize(outputs: list[dict]) -> str:
    """One line: files ready for underwriting, officer reviews, the most required documents."""
    ready = sum(bool(o.get("ready_for_underwriting")) for o in outputs)
    reviewed = sum(o.get("officer_answer") is not None for o in outputs)
    docs = Counter(d["code"] for o in outputs for d in o.get("documents", []))
    top = ", ".join(f"{code} x{n}" for code, n in docs.most_common(3))
    return f"{len(outputs)} checklists: {ready} ready for underwriting, {reviewed} officer reviews; most required: {top}"
