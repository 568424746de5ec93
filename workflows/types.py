"""Dataclasses exchanged between workflows, activities, the gateway, CLI and console.

Signal, query and update names are constants here so every caller uses the same ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from temporalio.common import SearchAttributeKey

# AgentLifecycleWorkflow
SIGNAL_APPROVE = "approve"
SIGNAL_REJECT = "reject"
QUERY_STATUS = "status"
# DeploymentWorkflow
SIGNAL_PROMOTE = "promote"
SIGNAL_PAUSE = "pause"
SIGNAL_RESUME_DEPLOY = "resume"
SIGNAL_ABORT = "abort"
QUERY_PROGRESS = "progress"
# AgentRunWorkflow
SIGNAL_RESUME_RUN = "resume"
UPDATE_RESUME_RUN = "resume_run"
UPDATE_WAIT_SETTLED = "wait_settled"
QUERY_RUN_STATE = "state"

# Custom search attributes (Keyword) Shipway sets on its workflows; `shipway up` registers them.
SA_AGENT = SearchAttributeKey.for_keyword("ShipwayAgent")
SA_STEP = SearchAttributeKey.for_keyword("ShipwayStep")
SA_TENANT = SearchAttributeKey.for_keyword("ShipwayTenant")

# Lifecycle steps, in order (the value of the `status` query's `step`).
STEPS = ("validate", "guard", "scaffold", "index", "approval", "deploy", "live")


def lifecycle_workflow_id(name: str, version: int) -> str:
    """Workflow id of an agent version's lifecycle: ``agent:{name}:v{n}``."""
    return f"agent:{name}:v{version}"


def run_workflow_id(run_id: str) -> str:
    """Workflow id of an agent run: ``run:{uuid}``."""
    return f"run:{run_id}"


@dataclass
class LifecycleInput:
    """Start of an agent version's lifecycle. ``spec`` is the raw (unvalidated) spec mapping."""

    name: str
    version: int
    spec: dict[str, Any]
    submitted_by: str
    approval_timeout_s: float = 7 * 24 * 3600
    reminder_every_s: float = 24 * 3600


@dataclass
class ApprovalDecision:
    """Payload of the ``approve`` and ``reject`` signals: who decides and why.

    Example input for ``temporal workflow signal --name approve``:
    ``{"approver": "carol@bank.example", "reason": "model risk review MRM-112 passed"}``
    """

    approver: str
    reason: str = ""


@dataclass
class LifecycleStatus:
    """Result of the ``status`` query and of the workflow."""

    name: str
    version: int
    step: str
    state: str  # running | live | rejected | failed | rolled_back
    detail: str = ""
    owner: str = ""
    refused: list[str] = field(default_factory=list)
    artifact_sha256: str | None = None
    approver: str | None = None


@dataclass
class DeploymentStep:
    """One step of a rollout: route ``weight_pct`` percent to the new version, then bake."""

    weight_pct: float
    bake_s: float


@dataclass
class DeploymentInput:
    """Start of a rollout of ``version`` of agent ``name``."""

    name: str
    version: int
    strategy: str = "AllAtOnce"
    target: str = "local"
    steps: list[DeploymentStep] | None = None  # custom steps; None = from the strategy name
    actor: str = "shipway"


@dataclass
class DeploymentProgress:
    """Result of the ``progress`` query and of the workflow."""

    name: str
    version: int
    strategy: str
    state: str  # in_progress | paused | succeeded | rolled_back | aborted
    step_index: int = 0
    steps_total: int = 0
    weight_pct: float = 0.0
    detail: str = ""
    analyses: list[dict] = field(default_factory=list)


@dataclass
class RunInput:
    """Start of one agent run on ``shipway-agents``."""

    run_id: str
    agent_name: str
    version: int
    thread_id: str
    input: dict[str, Any]
    tenant: str = "default"
    heartbeat_timeout_s: float = 30.0
    resume_timeout_s: float = 7 * 24 * 3600


@dataclass
class GraphStepInput:
    """One execution of the graph activity: a fresh ``input``, or a ``resume`` answer to an interrupt."""

    run_id: str
    agent_name: str
    version: int
    thread_id: str
    input: dict[str, Any] | None = None
    resume: dict[str, Any] | None = None


@dataclass
class RunRecord:
    """What the run-recording activity writes on the ``runs`` row."""

    run_id: str
    status: str
    output: dict[str, Any] | None = None
    interrupt: dict[str, Any] | None = None
    error: str | None = None
    latency_ms: float | None = None
    wait_ms: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0


@dataclass
class AuditRecord:
    """One audit event to append: ``actor`` did ``action`` on ``subject`` (e.g. ``agent:x:v1``)."""

    actor: str
    action: str
    subject: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class VersionStatus:
    """Set an agent version's ``status`` (and optionally its artifact) in the catalog."""

    name: str
    version: int
    status: str
    artifact_sha256: str | None = None
    artifact_path: str | None = None


@dataclass
class ApprovalRecord:
    """An approval decision as recorded in the ``approvals`` table."""

    name: str
    version: int
    decision: str
    approver: str
    reason: str
    accepted: bool
    refusal_reason: str | None = None


@dataclass
class TrafficUpdate:
    """Set the gateway's traffic weights (percent by version) for one agent."""

    name: str
    weights: dict[str, float]  # version (as text, JSON keys are strings) -> percent
    live_version: int | None = None


@dataclass
class CanaryAnalysisInput:
    """Compare the canary ``version`` against ``baseline`` over runs since ``since_iso``."""

    name: str
    version: int
    baseline: int | None
    since_iso: str
    max_error_rate: float = 0.05
    max_p99_latency_ratio: float = 2.0
    min_runs: int = 1


@dataclass
class ResumeRequest:
    """Payload of the run's ``resume`` signal / ``resume_run`` update: the human's answer."""

    value: dict[str, Any]
    actor: str = "operator"


@dataclass
class GraphStepResult:
    """What one execution of the graph activity returns."""

    status: str  # completed | interrupted
    output: dict[str, Any] | None = None
    interrupt: dict[str, Any] | None = None
    nodes: list[str] = field(default_factory=list)
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0


@dataclass
class RunResult:
    """Result of ``AgentRunWorkflow`` and of the ``state`` query."""

    run_id: str
    status: str  # running | interrupted | succeeded | failed
    output: dict[str, Any] | None = None
    interrupt: dict[str, Any] | None = None
    error: str | None = None
