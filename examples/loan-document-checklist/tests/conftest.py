"""Shared fixtures. The project root goes first on ``sys.path`` so the tests import this project's
``loan_checklist`` package (plain absolute imports, as ``langgraph dev`` and Shipway load it)."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from langgraph.checkpoint.memory import InMemorySaver  # noqa: E402

from loan_checklist.data import load_applications  # noqa: E402
from loan_checklist.graph import build_graph  # noqa: E402


@pytest.fixture(scope="session")
def applications() -> tuple[dict, ...]:
    """All 1,000 German Credit applications as run inputs (``application_id`` = row index)."""
    return load_applications()


@pytest.fixture
def app():
    """``app(row)``: a fresh copy of the application in that row of the data."""
    return lambda row: dict(load_applications()[row])


@pytest.fixture
def graph():
    """The graph compiled with an in-memory checkpointer, so it can interrupt and resume."""
    return build_graph().compile(checkpointer=InMemorySaver())


@pytest.fixture
def thread() -> dict:
    """A run config on a new thread."""
    return {"configurable": {"thread_id": str(uuid.uuid4())}}
