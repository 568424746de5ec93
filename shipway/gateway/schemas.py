"""Request and response bodies of the gateway's routes (their OpenAPI schemas)."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from workflows.statuses import RunStatus


# Lone UTF-16 surrogates: Python's JSON parser accepts "\\ud800" escapes, but they are not Unicode
# text, so PostgreSQL refuses them in jsonb and text (and psycopg cannot even encode them).
_SURROGATE = re.compile("[\ud800-\udfff]")


def _unstorable(value: Any) -> str | None:
    """What in one JSON scalar PostgreSQL cannot store, or None."""
    if isinstance(value, str):
        if "\x00" in value:
            return "a NUL character (\\u0000)"
        if _SURROGATE.search(value):
            return "a lone UTF-16 surrogate (\\ud800-\\udfff)"
    elif isinstance(value, float) and not math.isfinite(value):
        return f"a non-finite number ({value}), not valid JSON"
    return None


def _unstorable_path(value: Any, path: str) -> tuple[str, str] | None:
    if why := _unstorable(value):
        return path, why
    if isinstance(value, dict):
        for k, v in value.items():
            # the path goes into the 422 body, which cannot carry a lone surrogate of a key either
            at = f"{path}.{k.encode('utf-8', 'backslashreplace').decode() if isinstance(k, str) else k}"
            if (found := _unstorable_path(k, at)) or (found := _unstorable_path(v, at)):
                return found
    if isinstance(value, list):
        for i, v in enumerate(value):
            if found := _unstorable_path(v, f"{path}[{i}]"):
                return found
    return None


def storable(value: Any) -> Any:
    """Refuse what PostgreSQL cannot store anywhere in ``value``: text with a NUL character or a lone
    surrogate, and NaN or Infinity (which Python's JSON parser accepts).

    NUL was refused before; a lone surrogate, NaN or Infinity got as far as the worker, whose insert
    of the run (or audit of the answer) then failed on every retry: the run never started and the
    request starting or resuming it hung (found probing the gateway with hostile JSON; regression
    test in tests/integration/test_api_fuzz.py).

    Raises:
        ValueError: naming what and where (``input.applicant.name``).
    """
    if found := _unstorable_path(value, "value"):
        where, why = found
        raise ValueError(f"contains {why} at {where}")
    return value


ThreadId = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(storable)]
Tenant = Annotated[str, StringConstraints(min_length=1, max_length=100), AfterValidator(storable)]
Actor = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(storable)]
JsonObject = Annotated[dict[str, Any], AfterValidator(storable)]
# Path and query parameters the gateway looks up in PostgreSQL (agent names, run ids): a NUL in them
# (`/v1/runs/%00`) made the query fail with a 500; now it is a 422 naming the parameter.
LookupText = Annotated[str, AfterValidator(storable)]


class RunConfig(BaseModel):
    """The part of a LangGraph ``RunnableConfig`` a caller may set."""

    configurable: JsonObject = Field(default_factory=dict, description="Passed to the graph's nodes; "
                                     "`thread_id`, `run_id` and `model` are the platform's and are overridden.")


class RunRequest(BaseModel):
    """Body of ``POST /v1/agents/{name}/runs``."""

    input: JsonObject = Field(description="The agent's run input; its JSON Schema is `input_schema` of `GET /v1/agents/{name}`.")
    thread_id: ThreadId | None = Field(default=None, description="Conversation thread to continue; default: a new thread per run.")
    tenant: Tenant | None = Field(default=None, description="Defaults to the key's tenant; another tenant is refused (403).")
    context: JsonObject | None = Field(default=None, description="The graph's runtime context (its `context_schema`), if it has one.")
    config: RunConfig | None = None


class ResumeBody(BaseModel):
    """Body of ``POST /v1/runs/{id}/resume``: the human's answer to the interrupt."""

    value: JsonObject = Field(description="The answer; must satisfy the interrupt's `answer_schema`.")
    actor: Actor | None = Field(default=None, description="Who answers (audited); default: the API key.")


class GuardView(BaseModel):
    """The guard verdict that stopped a run: which ``stage`` (``input``, ``resume:<n>``, ``output``),
    ``verdict`` (``blocked`` or ``withheld``), the ``rail`` (``pii``, ``jailbreak``, ...), the
    ``reason_code`` and a ``detail`` naming where (never the text itself)."""

    stage: str
    verdict: str
    rail: str | None = None
    reason_code: str | None = None
    detail: str = ""


class RunView(BaseModel):
    """A run as the API returns it: times ISO 8601 UTC, latencies in ms, cost in USD. ``interrupt``
    is the pending request (``question``, ``decisions``, ``answer_schema``, ``context``, ``reasons``)."""

    run_id: str
    agent: str
    version: int
    thread_id: str
    tenant: str
    status: RunStatus
    output: dict[str, Any] | None = None
    interrupt: dict[str, Any] | None = None
    error: str | None = None
    latency_ms: float | None = None
    wait_ms: float
    tokens_in: int
    tokens_out: int
    cost_usd: float
    started_at: datetime
    finished_at: datetime | None = None
    workflow_url: str
    guard: GuardView | None = Field(default=None, description="Set when the run ended blocked or withheld.")


class RunAccepted(BaseModel):
    """Answer of an asynchronous start (202): poll ``GET /v1/runs/{run_id}``."""

    run_id: str
    agent: str
    version: int
    thread_id: str
    status: RunStatus
    workflow_url: str


class ResumeAccepted(BaseModel):
    """Answer of an asynchronous resume (202)."""

    accepted: bool
    run_id: str


class TrafficShare(BaseModel):
    """Percent of an agent's new runs routed to one version."""

    version: int
    weight_pct: float


class AgentView(BaseModel):
    """A live agent: who owns it, what it does, where its traffic goes, and the JSON Schema of
    its run input (of the version with the largest share)."""

    name: str
    owner: str
    description: str
    live_version: int | None
    tenant: str | None = Field(default=None, description="The tenant a private agent belongs to; null for a shared agent.")
    traffic: list[TrafficShare]
    input_schema: dict[str, Any] | None = None


class Health(BaseModel):
    """``ok`` when the database and Temporal answer; otherwise ``degraded`` with each check's error."""

    status: str
    checks: dict[str, str]


class WebhookAck(BaseModel):
    """What the gateway made of a webhook delivery: its id in ``webhook_deliveries``, the outcome
    (``signalled``, ``ignored``, ``duplicate``) and a line saying why."""

    delivery: int
    outcome: str
    detail: str
