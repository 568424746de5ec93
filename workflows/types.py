"""The contracts between workflows, activities, the gateway, CLI and console.

Every activity has a name constant here, takes exactly one input dataclass and returns exactly one
result dataclass; every signal, query and update has a name constant and typed payloads. Callers
pass ``result_type`` so results arrive as these dataclasses, never as dicts read by key.
Statuses are the ``StrEnum``s of :mod:`workflows.statuses`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from temporalio.common import SearchAttributeKey

from workflows.statuses import (
    ApprovalChannel,
    CanaryVerdict,
    ApprovalKind,
    DeploymentState,
    GraphStepStatus,
    LifecycleStep,
    RunStatus,
    VersionStatus,
)

# -- Workflow names, signals, queries and updates -----------------------------------------------
LIFECYCLE_WORKFLOW = "AgentLifecycleWorkflow"
DEPLOYMENT_WORKFLOW = "DeploymentWorkflow"
RUN_WORKFLOW = "AgentRunWorkflow"
THREAD_WORKFLOW = "ThreadWorkflow"
AUDIT_VERIFICATION_WORKFLOW = "AuditVerificationWorkflow"
# The Temporal Schedule that starts AuditVerificationWorkflow every day (on shipway-control).
AUDIT_VERIFICATION_SCHEDULE = "audit-verification-daily"

# AgentLifecycleWorkflow
SIGNAL_APPROVE = "approve"
SIGNAL_REJECT = "reject"
SIGNAL_SUPERSEDED = "superseded"
UPDATE_DECIDE = "decide"
UPDATE_LIFECYCLE_SETTLED = "wait_settled"
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
UPDATE_RUN_ACCEPTED = "wait_accepted"
UPDATE_RUN_SETTLED = "wait_settled"
QUERY_RUN_STATE = "state"

# -- Activity names -------------------------------------------------------------------------------
# shipway-control: lifecycle and deployment
REGISTER_VERSION = "register_version"
VALIDATE_SPEC = "validate_spec"
STORE_VALIDATED_SPEC = "store_validated_spec"
GUARD_SPEC = "guard_spec"
SCAFFOLD_AGENT = "scaffold_agent"
INDEX_AGENT = "index_agent"
SET_VERSION_STATUS = "set_version_status"
GET_LIVE_VERSION = "live_version"
SET_LIVE_VERSION = "set_live_version"
RECORD_APPROVAL = "record_approval"
OPEN_APPROVAL_REQUEST = "open_approval_request"
NOTE_APPROVAL_REQUEST = "note_approval_request"
SET_TRAFFIC = "set_traffic"
PREPARE_VERSION = "prepare_version"
RETIRE_VERSION = "retire_version"
RECORD_DEPLOYMENT = "record_deployment"
ANALYZE_CANARY = "analyze_canary"
# both task queues
RECORD_AUDIT = "record_audit"
VERIFY_AUDIT_CHAIN = "verify_audit_chain"
# shipway-agents: agent runs
START_RUN = "start_run"
GUARD_INPUT = "guard_input"
RUN_GRAPH = "run_graph"
VERIFY_OUTPUT = "verify_output"
RECORD_RUN = "record_run"
CREATE_THREAD = "create_thread"
END_RUN_STREAM = "end_run_stream"

# Errors in workflow code that end the workflow (an ApplicationError an operator sees) instead of
# failing its task forever. Deliberately not ``Exception``: the SDK would then also fail workflows on
# non-determinism, and a bad deploy of workflow code could not be rolled back without losing them.
WORKFLOW_FAILURE_TYPES: tuple[type[Exception], ...] = (
    ArithmeticError, AssertionError, AttributeError, LookupError, NameError, RuntimeError, TypeError, ValueError,
)

# Custom search attributes (Keyword) Shipway sets on its workflows; `shipway up` registers them.
SA_AGENT = SearchAttributeKey.for_keyword("ShipwayAgent")
SA_STEP = SearchAttributeKey.for_keyword("ShipwayStep")
SA_TENANT = SearchAttributeKey.for_keyword("ShipwayTenant")

# Workflow patches (``workflow.patched``): histories recorded before a patch replay the old code path.
PATCH_JIRA_APPROVALS = "jira-approvals"
PATCH_CANARY_EVIDENCE = "canary-evidence"
# DeploymentWorkflow starts the Failed Deployment runbook after a canary rollback (issue 14).
PATCH_FAILED_DEPLOYMENT_RUNBOOK = "failed-deployment-runbook"

# Lifecycle steps, in order (the value of the `status` query's `step`).
STEPS = tuple(LifecycleStep)


def lifecycle_workflow_id(name: str, version: int) -> str:
    """Workflow id of an agent version's lifecycle: ``agent:{name}:v{n}``."""
    return f"agent:{name}:v{version}"


def deployment_workflow_id(name: str, version: int) -> str:
    """Workflow id of an agent version's rollout: ``deploy:{name}:v{n}``."""
    return f"deploy:{name}:v{version}"


def thread_workflow_id(thread_id: str) -> str:
    """Workflow id of the making of a thread: ``thread:{thread_id}``."""
    return f"thread:{thread_id}"


def run_workflow_id(run_id: str) -> str:
    """Workflow id of an agent run: ``run:{uuid}``."""
    return f"run:{run_id}"


# -- AgentLifecycleWorkflow -----------------------------------------------------------------------
@dataclass
class LifecycleInput:
    """Start of an agent version's lifecycle. ``spec`` is the raw (unvalidated) spec mapping."""

    name: str
    version: int
    spec: dict[str, Any]
    submitted_by: str
    approval_timeout_s: float = 7 * 24 * 3600
    reminder_every_s: float = 24 * 3600
    bake_scale: float = 1.0  # multiplies the rollout's bake times (setting bake_time_scale)


@dataclass
class ApprovalDecision:
    """Payload of the ``approve`` and ``reject`` signals: who decides and why.

    Example input for ``temporal workflow signal --name approve``:
    ``{"approver": "carol@bank.example", "reason": "model risk review MRM-112 passed"}``.
    The workflow validates it itself: a malformed payload, an empty approver or the agent's owner
    is refused and recorded (an ``approvals`` row and an audit event).
    """

    approver: str
    reason: str = ""
    channel: ApprovalChannel = ApprovalChannel.CLI
    jira_account: str | None = None  # the Jira accountId that moved the issue (channel jira)
    jira_issue: str | None = None


@dataclass
class ApprovalRequest:
    """Input of the ``decide`` update: the decision, who makes it, why, and through which channel
    (``console`` or ``cli``). Refused with a reason (the update fails) when malformed, when the
    version is not awaiting approval, or when the approver is the agent's owner (that refusal is
    also recorded)."""

    decision: ApprovalKind
    approver: str
    reason: str
    channel: ApprovalChannel = ApprovalChannel.CLI


@dataclass
class ApprovalOutcome:
    """Result of the ``decide`` update."""

    decision: ApprovalKind
    approver: str
    accepted: bool
    refusal_reason: str | None = None
    approvals: int = 0  # accepted approvals so far (of ``required``)
    required: int = 1


@dataclass
class RefusedDecision:
    """A decision the workflow refused, as the ``status`` query shows it."""

    decision: str
    approver: str
    why: str
    channel: str  # jira | console | cli (signal | update in histories before the jira-approvals patch)


@dataclass
class SupersededNotice:
    """Payload of the ``superseded`` signal a newer version's rollout sends to a live version."""

    by_version: int


@dataclass
class LifecycleStatus:
    """Result of the ``status`` query, of the ``wait_settled`` update and of the workflow.

    ``status`` is the version's catalog status; the lifecycle is settled once it is no longer
    ``status.in_progress`` (live, or ended: rejected, expired, failed, rolled back). A live
    version's workflow stays open until a newer version supersedes it.
    """

    name: str
    version: int
    step: LifecycleStep
    status: VersionStatus
    detail: str = ""
    owner: str = ""
    refused: list[RefusedDecision] = field(default_factory=list)
    artifact_sha256: str | None = None
    approver: str | None = None
    approvers: list[str] = field(default_factory=list)  # distinct accepted approvers so far
    required_approvers: int = 1
    jira_key: str | None = None
    jira_url: str | None = None


# -- DeploymentWorkflow ---------------------------------------------------------------------------
@dataclass
class DeploymentStep:
    """One step of a rollout: route ``weight_pct`` percent (0-100) to the new version, then bake
    ``bake_s`` seconds."""

    weight_pct: float
    bake_s: float


@dataclass
class CanaryThresholds:
    """When a canary breaches, compared with the stable version over the same window (spec
    ``deployment.thresholds``; these defaults otherwise). Rates are 0-1, latency milliseconds,
    ``max_violation_points`` percentage points of guardrail-violation rate over the stable
    version's; a p99 over ``max_p99_ratio`` times the stable's breaches only when it is also at
    least ``min_p99_excess_ms`` over it (on runs of a few hundred ms, one slow run moves a p99 by
    more than half: measured with bench/canary.py). A metric needs ``min_runs`` runs of the canary (and of the stable version, where it
    is compared with it) before it is judged; rate breaches must also be significant at ``alpha``
    (one-sided tests, :mod:`activities.canary_verdict`). An inconclusive step bakes again, at most
    ``max_inconclusive`` times, then rolls back."""

    max_error_rate: float = 0.05
    max_p99_ms: float = 5000.0
    max_p99_ratio: float = 1.5
    min_p99_excess_ms: float = 250.0  # a ratio breach must also be this far over the stable p99 (noise on fast runs)
    max_violation_points: float = 2.0
    max_cost_ratio: float = 1.5
    min_runs: int = 20
    alpha: float = 0.05
    max_inconclusive: int = 3


@dataclass
class DeploymentInput:
    """Start of a rollout of ``version`` of agent ``name``. ``bake_scale`` multiplies every bake
    time (the ``bake_time_scale`` setting: shorter bakes for demos and tests)."""

    name: str
    version: int
    strategy: str = "AllAtOnce"
    target: str = "local"
    steps: list[DeploymentStep] | None = None  # custom steps; None = from the strategy name
    actor: str = "shipway"
    thresholds: CanaryThresholds | None = None  # None: the defaults
    bake_scale: float = 1.0


@dataclass
class VersionMetrics:
    """Metrics of one version's runs in an analysis window: runs finished (succeeded or failed) and
    failed, error rate (0-1, None without runs), p99 latency (ms) and mean cost per run (USD) of the
    finished ones; and of every run that ended (``runs``: finished, blocked or withheld), how many
    the run guards stopped (``violations``: blocked + withheld) and that rate (0-1)."""

    finished: int
    failed: int
    error_rate: float | None
    p99_ms: float | None
    cost_per_run_usd: float | None
    runs: int = 0
    violations: int = 0
    violation_rate: float | None = None


@dataclass
class MetricVerdict:
    """One metric of a canary analysis: the canary's value, the stable version's, the threshold it
    was held to (in words, and as the numeric ``limit``), its verdict and, for rates, the one-sided
    test's p-value (a rate breaches only when significantly above ``limit``)."""

    metric: str  # error_rate | p99_latency | violation_rate | cost_per_run
    verdict: CanaryVerdict
    canary: float | None
    baseline: float | None
    threshold: str
    p_value: float | None = None
    limit: float | None = None  # the value it breaches above, in the metric's unit (rates 0-1, ms, USD)


@dataclass
class CanaryAnalysis:
    """Verdict of one canary step: ``verdict`` overall (``breach`` when any metric breached, else
    ``inconclusive`` when any lacked runs, else ``pass``), ``breach`` and machine-readable
    ``reasons`` naming each failing metric with its values and threshold, each metric's verdict,
    and the metrics of the canary and of the stable version over the same window."""

    breach: bool
    reasons: list[str]
    canary: VersionMetrics
    baseline: VersionMetrics | None
    verdict: CanaryVerdict = CanaryVerdict.PASS
    metrics: list[MetricVerdict] = field(default_factory=list)


@dataclass
class DeploymentProgress:
    """Result of the ``progress`` query and of the workflow."""

    name: str
    version: int
    strategy: str
    state: DeploymentState
    step_index: int = 0
    steps_total: int = 0
    weight_pct: float = 0.0
    detail: str = ""
    analyses: list[CanaryAnalysis] = field(default_factory=list)


# -- AgentRunWorkflow -----------------------------------------------------------------------------
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
    context: dict[str, Any] | None = None  # the graph's runtime context (its context_schema)
    configurable: dict[str, Any] = field(default_factory=dict)  # the caller's config["configurable"]
    started_by: str = ""  # id of the API key that started it (a caller key reads and resumes only its own runs)
    max_cost_usd: float | None = None  # the version's per-run budget (spec max_cost_usd), US dollars
    # a graph checkpointed at exit runs each step as a local activity first, for at most this long (s); None: never
    local_graph_timeout_s: float | None = None
    # LangGraph Platform API runs (the fields are absent from older histories, which replay as before):
    ends_at_interrupt: bool = False  # the run ends ``interrupted`` at an interrupt and frees its thread; a new run resumes it
    resume: Any = None  # ``command.resume``: the run answers its thread's pending interrupt instead of taking ``input``
    wait_for_thread: bool = False  # a busy thread queues the run until it is free (``multitask_strategy="enqueue"``)
    metadata: dict[str, Any] = field(default_factory=dict)  # the caller's run metadata, kept on the run row
    stream_modes: list[str] | None = None  # the Platform stream modes whose chunks go to ``run_events``; None: not streamed
    stream_subgraphs: bool = False  # chunks of subgraphs too, named ``mode|namespace``
    webhook: str | None = None  # POST the run and its final values here once it ends (DELIVER_RUN_WEBHOOK)


@dataclass
class ResumeRequest:
    """Payload of the run's ``resume`` signal / ``resume_run`` update: the human's answer
    (``value``, a JSON object shaped by the interrupt's ``answer_schema``) and who gives it."""

    value: dict[str, Any]
    actor: str = "operator"


@dataclass
class ResumeAck:
    """Result of the ``resume_run`` update."""

    accepted: bool
    run_id: str


@dataclass
class RunResult:
    """Result of ``AgentRunWorkflow``, of its ``state`` query and of its waiting updates."""

    run_id: str
    status: RunStatus
    output: dict[str, Any] | None = None
    interrupt: dict[str, Any] | None = None
    error: str | None = None


# -- Activities: lifecycle ------------------------------------------------------------------------
@dataclass
class RegisterVersionInput:
    """Record a submitted version (and its agent, when new) in the catalog."""

    name: str
    version: int
    spec: dict[str, Any]
    submitted_by: str
    workflow_id: str


@dataclass
class RegisterVersionResult:
    """``created`` is False when a retried attempt found its row already written."""

    created: bool


@dataclass
class ValidateSpecInput:
    """A raw spec to validate for agent ``name``."""

    name: str
    spec: dict[str, Any]


@dataclass
class ValidateSpecResult:
    """The validated spec with defaults filled in (JSON-ready)."""

    spec: dict[str, Any]


@dataclass
class StoreSpecInput:
    """Replace a version's submitted spec by its validated one."""

    name: str
    version: int
    spec: dict[str, Any]


@dataclass
class StoreSpecResult:
    """The agent's owner as the validated spec names it."""

    owner: str


@dataclass
class GuardSpecInput:
    """A validated spec to guard."""

    spec: dict[str, Any]


@dataclass
class PiiFinding:
    """One PII finding in a spec field: entity type, character offsets ``[start, end)`` into the
    field's text, and Presidio's score (0-1)."""

    field: str
    entity: str
    start: int
    end: int
    score: float


@dataclass
class GuardSpecResult:
    """Findings below the blocking threshold (a blocking finding raises ``PiiInSpec`` instead)."""

    findings: list[PiiFinding] = field(default_factory=list)


@dataclass
class ScaffoldInput:
    """Render, test and store the code package of ``version`` of the validated ``spec``."""

    spec: dict[str, Any]
    version: int


@dataclass
class ScaffoldResult:
    """The built artifact (a reproducible ``.tar.gz`` in the artifact store): its SHA-256, files, the
    summary of its own tests, and its manifest (:class:`activities.artifact_format.Manifest` as JSON)."""

    artifact_sha256: str
    files: list[str]
    tests_summary: str
    manifest: dict[str, Any] = field(default_factory=dict)


@dataclass
class IndexInput:
    """Embed ``text`` (the description) as the version's search vector."""

    name: str
    version: int
    text: str


@dataclass
class IndexResult:
    """Dimensions of the stored embedding (384)."""

    dimensions: int


@dataclass
class SetVersionStatusInput:
    """Move a version to ``status`` (a legal transition of the version state machine), with a
    human-readable ``detail`` (e.g. why it failed) and, once scaffolded, its artifact's SHA-256 and manifest."""

    name: str
    version: int
    status: VersionStatus
    detail: str = ""
    artifact_sha256: str | None = None
    manifest: dict[str, Any] | None = None


@dataclass
class SetVersionStatusResult:
    """The status before and after (equal when a retried attempt had already moved it)."""

    previous: VersionStatus
    status: VersionStatus


@dataclass
class ApprovalRecord:
    """An approval decision as recorded in the ``approvals`` table (accepted or refused)."""

    name: str
    version: int
    decision: str
    approver: str
    reason: str
    accepted: bool
    refusal_reason: str | None = None
    channel: str = ApprovalChannel.CLI


@dataclass
class ApprovalRecordResult:
    """Id of the ``approvals`` row."""

    approval_id: int


@dataclass
class OpenApprovalRequestInput:
    """Open the approval request of a version that reached the approval step: record it and, when
    Jira is configured, create (or find, on a retry) its Jira issue with the spec, the guard
    findings, the artifact's SHA-256, the diff against the previous version and a link to the
    workflow."""

    name: str
    version: int
    workflow_id: str
    owner: str
    spec: dict[str, Any]
    artifact_sha256: str
    guard_findings: list[PiiFinding] = field(default_factory=list)
    required_approvers: int = 1


@dataclass
class OpenApprovalRequestResult:
    """The Jira issue of the request (key and browse URL), or None for both without Jira."""

    jira_key: str | None = None
    jira_url: str | None = None


@dataclass
class ApprovalNoteInput:
    """Say something on a version's Jira issue: a comment (plain text, paragraphs split on blank
    lines) and, optionally, a move to the status that stands for ``move_to`` (``approve``,
    ``reject``, or ``pending`` for the configured pending status)."""

    name: str
    version: int
    jira_key: str
    text: str
    move_to: str | None = None


@dataclass
class ApprovalNoteResult:
    """Whether the issue was moved (False: no move asked, or no transition leads there), and why
    Jira refused the note (a 4xx: the issue was deleted, the account lost its permission), if it did."""

    moved: bool = False
    refused: str | None = None


@dataclass
class AuditRecord:
    """One audit event to append: ``actor`` did ``action`` on ``subject`` (e.g. ``agent:x:v1``)."""

    actor: str
    action: str
    subject: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class AuditResult:
    """Id and chain hash of the appended event."""

    event_id: int
    hash: str


@dataclass
class AuditChainCheck:
    """Verify the whole audit chain and record the result as an audit event by ``actor``."""

    actor: str = "shipway.audit-verification"


@dataclass
class AuditChainReport:
    """The chain walk: ``intact``, events verified, the last hash, the first broken event's id (if
    any) and the id of the audit event that records this result."""

    intact: bool
    events: int
    last_hash: str | None
    broken_event_id: int | None
    recorded_event_id: int


# -- Activities: deployment -----------------------------------------------------------------------
@dataclass
class LiveVersionInput:
    """Which version of agent ``name`` is live."""

    name: str


@dataclass
class LiveVersionResult:
    """The live version, or None when the agent has none."""

    version: int | None


@dataclass
class SetLiveVersionInput:
    """Make ``version`` the agent's live version; the version it replaces becomes ``superseded``."""

    name: str
    version: int


@dataclass
class SetLiveVersionResult:
    """The previously live version (None when there was none)."""

    previous: int | None


@dataclass
class TrafficUpdate:
    """Set one agent's traffic weights on a deployment ``target``: percent by version (keys are
    text, as in JSON), summing to 100, or empty for "serve nothing". ``local``: the gateway's
    weights in PostgreSQL; ``aws``: those, and the agent's ALB listener rule."""

    name: str
    weights: dict[str, float]
    target: str = "local"


@dataclass
class VersionOnTarget:
    """Input of ``prepare_version`` (before a version gets traffic: on ``aws``, its own ECS service
    and ALB target group) and ``retire_version`` (once it has none: its service and group removed).
    Both do nothing on ``local``."""

    name: str
    version: int
    target: str = "local"


@dataclass
class VersionOnTargetResult:
    """The version's ALB target group ARN on ``aws`` (None on ``local``, or once retired)."""

    target_group_arn: str | None = None


@dataclass
class TrafficResult:
    """The weights now in force."""

    weights: dict[str, float]


@dataclass
class DeploymentRecord:
    """Insert or update the ``deployments`` row of one rollout workflow."""

    name: str
    version: int
    strategy: str
    target: str
    workflow_id: str
    state: DeploymentState
    weight_pct: float = 0.0
    detail: str = ""


@dataclass
class DeploymentRecordResult:
    """Id of the ``deployments`` row."""

    deployment_id: int


@dataclass
class CanaryAnalysisInput:
    """Compare the canary ``version`` against ``baseline`` over runs since ``since_iso`` (ISO 8601).

    Thresholds: error rate (0-1) of the canary, and its p99 latency as a multiple of the baseline's;
    fewer than ``min_runs`` finished canary runs gives no verdict on the error rate.
    """

    name: str
    version: int
    baseline: int | None
    since_iso: str
    max_error_rate: float = 0.05
    max_p99_latency_ratio: float = 2.0
    min_runs: int = 1
    thresholds: CanaryThresholds | None = None  # set by the canary-evidence patch; None: the fields above
    step_index: int = 0
    weight_pct: float = 0.0  # the canary's share of traffic during the window (percent)
    analysis_index: int = 0  # the n-th analysis of this rollout (a step analysed again after an inconclusive one)
    workflow_id: str = ""  # with analysis_index, identifies the stored analysis (empty: not stored)


# -- Activities: runs -----------------------------------------------------------------------------
@dataclass
class RunStart:
    """Record a run and claim its thread: a thread belongs to one agent and tenant, and one
    unfinished run at a time."""

    run_id: str
    agent_name: str
    version: int
    thread_id: str
    tenant: str
    input: dict[str, Any]
    workflow_id: str
    started_by: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunStartResult:
    """``accepted``, or why not (``reason``, e.g. the thread belongs to another agent); ``busy``: the
    refusal is only that another unfinished run holds the thread (a queued run may wait for it)."""

    accepted: bool
    reason: str = ""
    busy: bool = False


@dataclass
class RunStreamEnd:
    """The end of a streamed run's events: an ``error`` event first when ``error`` is set (``{"error":
    kind, "message": text}``), then ``end``, after which followers stop."""

    run_id: str
    tenant: str
    error: dict[str, Any] | None = None


@dataclass
class RunStreamEnded:
    """The id of the ``end`` event."""

    end_id: int


@dataclass
class ThreadCreate:
    """A thread made before its first run (``POST /threads``): the caller's ``metadata``;
    ``if_exists``: ``raise`` (refuse an existing id) or ``do_nothing`` (answer the existing thread)."""

    thread_id: str
    tenant: str
    metadata: dict[str, Any] = field(default_factory=dict)
    if_exists: str = "raise"
    created_by: str = ""  # id of the API key that made it


@dataclass
class ThreadCreateResult:
    """``created``; or not, with ``reason`` (the id is taken, or another tenant's)."""

    created: bool
    reason: str = ""


@dataclass
class GraphStepInput:
    """One execution of the graph activity: a fresh ``input``, or a ``resume`` answer to an interrupt."""

    run_id: str
    agent_name: str
    version: int
    thread_id: str
    input: dict[str, Any] | None = None
    resume: Any = None  # any JSON value: Shipway's resume is an object, the Platform's ``command.resume`` anything
    context: dict[str, Any] | None = None
    configurable: dict[str, Any] = field(default_factory=dict)
    tenant: str = "default"
    workflow_id: str = ""
    budget_usd: float | None = None  # what is left of the run's max_cost_usd, US dollars; None = no budget
    spent_usd: float = 0.0  # the run's LLM cost before this step as the workflow counted it (budget across retries)
    stream_modes: list[str] | None = None  # Platform stream modes to store in ``run_events`` (None: none)
    stream_subgraphs: bool = False


@dataclass
class GraphStepResult:
    """What one execution of the graph activity returns: the output, or the interrupt's request;
    the nodes it ran; LLM tokens and cost (USD) of those nodes."""

    status: GraphStepStatus
    output: dict[str, Any] | None = None
    interrupt: dict[str, Any] | None = None
    nodes: list[str] = field(default_factory=list)
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    # -- run budgets: the run's LLM totals in llm_usage after this step (every step and attempt,
    # failed ones too); None when they did not move (a first attempt without LLM calls) or from an older worker
    run_tokens_in: int | None = None
    run_tokens_out: int | None = None
    run_cost_usd: float | None = None


# A failed graph activity carries the run's LLM totals (as in GraphStepResult.run_*) in its
# ApplicationError details as {RUN_USAGE_DETAIL: {"tokens_in", "tokens_out", "cost_usd"}}.
RUN_USAGE_DETAIL = "run_llm_usage"


@dataclass
class GuardInput:
    """Guard one value a run receives: its ``input`` or a ``resume:<n>`` answer (``stage``)."""

    run_id: str
    agent_name: str
    version: int
    stage: str
    value: dict[str, Any]


@dataclass
class GuardVerdict:
    """What the input guard decided: ``blocked`` (with the rail and reason code), or the value to
    use, with the policy's redactions applied."""

    blocked: bool
    value: dict[str, Any]
    rail: str | None = None
    reason_code: str | None = None
    detail: str = ""


@dataclass
class OutputCheck:
    """Verify a finished run's ``output`` against its agent's policy, with the run's ``run_input``
    (output PII must have been in the input) and the agent's own compliance checks."""

    run_id: str
    agent_name: str
    version: int
    output: dict[str, Any]
    run_input: dict[str, Any]


@dataclass
class OutputVerdict:
    """``withheld`` with the reason, or the output to release (with the policy's redactions)."""

    withheld: bool
    output: dict[str, Any] | None
    reason_code: str | None = None
    detail: str = ""


@dataclass
class RunRecord:
    """What the run-recording activity writes on the ``runs`` row (times in ms, cost in USD)."""

    run_id: str
    status: RunStatus
    output: dict[str, Any] | None = None
    interrupt: dict[str, Any] | None = None
    error: str | None = None
    latency_ms: float | None = None
    wait_ms: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    release_thread: bool = False  # an interrupted run that ends there (a Platform run) frees its thread


@dataclass
class RunRecordResult:
    """The status now on the row."""

    status: RunStatus


# == Checkpoint retention (CheckpointRetentionWorkflow, prune_checkpoints) ============================
RETENTION_WORKFLOW = "CheckpointRetentionWorkflow"
# The Temporal Schedule that starts CheckpointRetentionWorkflow every settings.retention_every_s (on shipway-control).
RETENTION_SCHEDULE = "checkpoint-retention"
QUERY_RETENTION_PROGRESS = "progress"
PRUNE_CHECKPOINTS = "prune_checkpoints"  # shipway-control


@dataclass
class AgentRetention:
    """What pruning deleted (in a dry run: would delete) from one agent's threads: threads pruned and
    rows of ``checkpoints``, ``checkpoint_writes`` and ``checkpoint_blobs``; with the agent's retention
    (days) and the cutoff (ISO 8601, UTC) its threads' last activity was older than."""

    agent_name: str
    retention_days: int
    cutoff: str
    threads: int = 0
    checkpoints: int = 0
    writes: int = 0
    blobs: int = 0


@dataclass
class PruneBatchInput:
    """One retention batch: at most ``batch_size`` (None: the setting) finished threads whose id sorts
    after ``after_thread_id`` and whose last activity is older than ``as_of`` (ISO 8601) minus their
    agent's retention in days (``older_than_days`` overrides every agent's); only ``agent_name``'s
    threads when set. ``dry_run``: the same statements, rolled back."""

    as_of: str
    after_thread_id: str = ""
    agent_name: str | None = None
    older_than_days: int | None = None
    batch_size: int | None = None
    dry_run: bool = False


@dataclass
class PruneBatchResult:
    """The batch's counts by agent, and the last thread id it took: the next batch's cursor, None
    when no thread after the cursor was left to prune."""

    agents: list[AgentRetention]
    last_thread_id: str | None


@dataclass
class RetentionReport:
    """A retention pass so far: batches that pruned threads, and by agent (sorted by name) what they deleted."""

    batches: int = 0
    agents: list[AgentRetention] = field(default_factory=list)

    def add(self, batch: PruneBatchResult) -> None:
        """Count one batch that took threads into the report (pure: also used by the workflow)."""
        self.batches += 1
        by_name = {a.agent_name: a for a in self.agents}
        for a in batch.agents:
            if (total := by_name.get(a.agent_name)) is None:
                by_name[a.agent_name] = AgentRetention(a.agent_name, a.retention_days, a.cutoff)
                total = by_name[a.agent_name]
            total.threads += a.threads
            total.checkpoints += a.checkpoints
            total.writes += a.writes
            total.blobs += a.blobs
        self.agents = sorted(by_name.values(), key=lambda a: a.agent_name)

    def total(self, what: str) -> int:
        """Sum over agents of ``what``: ``threads``, ``checkpoints``, ``writes`` or ``blobs``."""
        return sum(getattr(a, what) for a in self.agents)


@dataclass
class RetentionInput:
    """A retention pass over every agent's finished threads (only ``agent_name``'s when set);
    ``older_than_days`` overrides each agent's retention; ``batch_size`` threads per transaction (None:
    the setting); at most ``max_batches`` batches per workflow run, then it continues as new carrying
    ``as_of`` (the pass's reference time, ISO 8601; empty: the workflow's start), ``after_thread_id``
    (the cursor) and ``report``."""

    agent_name: str | None = None
    older_than_days: int | None = None
    batch_size: int | None = None
    max_batches: int = 200
    as_of: str = ""
    after_thread_id: str = ""
    report: RetentionReport | None = None
# == end of checkpoint retention ==================================================================


# == Cost governance (CostRollupWorkflow, rollup_costs) ===========================================
COST_ROLLUP_WORKFLOW = "CostRollupWorkflow"
# The Temporal Schedule that starts CostRollupWorkflow every settings.cost_rollup_every_s (on shipway-control).
COST_ROLLUP_SCHEDULE = "cost-rollup"
ROLLUP_COSTS = "rollup_costs"  # shipway-control


@dataclass
class CostRollupRequest:
    """One cost rollup: recompute the ``days`` UTC days up to today (2: yesterday and today) from the
    recorded LLM calls and runs, then evaluate today's daily budgets."""

    days: int = 2


@dataclass
class CostRollupInput:
    """Recompute the rollups of the UTC days ``since`` to ``until`` (ISO dates, inclusive) and evaluate
    the daily budgets of ``budget_day`` (ISO date) as ``actor`` (in the alerts' audit events)."""

    since: str
    until: str
    budget_day: str
    actor: str = "shipway"


@dataclass
class BudgetAlertFired:
    """An agent's spend reached ``threshold_pct`` (80, 100) of its daily budget (US dollars) on ``day``."""

    agent_name: str
    day: str
    threshold_pct: int
    spent_usd: float
    budget_usd: float


@dataclass
class CostRollupResult:
    """Rollup rows written for the days, agents with a daily budget evaluated, and the alerts that
    fired for the first time (an alert fires once per agent, day and threshold)."""

    rollup_rows: int
    budgets: int
    alerts: list[BudgetAlertFired] = field(default_factory=list)
# == end of cost governance =======================================================================


# == Run completion webhooks (the Platform API's ``webhook``; activities/run_webhooks.py) ==========
DELIVER_RUN_WEBHOOK = "deliver_run_webhook"  # shipway-agents


@dataclass
class RunWebhook:
    """One run-completion webhook: POST the run (the Platform's ``Run`` object) and its thread's final
    state ``values`` to ``url`` (http or https), signed, once the run ended.

    ``status`` is the Platform run status: ``success`` (also a run that stopped at an interrupt),
    ``error`` (with ``error``, a message) or ``interrupted`` (cancelled). ``metadata`` is the caller's
    run metadata; ``created_at`` / ``ended_at`` are ISO 8601 times (empty: unknown, sent as null);
    ``multitask_strategy`` as the run was created with. ``webhook_id`` identifies the delivery
    (``X-Shipway-Delivery``): the same on every retry, e.g. the run id, so receivers can drop
    repeats. Retries are the workflow's: ``RetryPolicy(initial_interval=1 s, backoff_coefficient=2,
    maximum_interval=60 s, maximum_attempts=5)``, ``start_to_close_timeout`` 30 s; refusals (4xx,
    redirects, a refused address or scheme) are non-retryable ``ApplicationError``s."""

    url: str
    run_id: str
    thread_id: str
    tenant: str
    agent_name: str
    version: int
    status: str
    webhook_id: str
    values: dict[str, Any] | None = None
    error: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    ended_at: str = ""
    multitask_strategy: str | None = None


@dataclass
class RunWebhookResult:
    """A delivered webhook: the receiver's 2xx ``status_code`` and the ``attempt`` (1 = first) that
    delivered it."""

    status_code: int
    attempt: int
# == end of run completion webhooks ===============================================================


# == LangGraph Platform API: thread state updates (ThreadStateWorkflow, update_thread_state) =======
from enum import StrEnum  # noqa: E402 (this section's own import, kept with it)

THREAD_STATE_WORKFLOW = "ThreadStateWorkflow"
UPDATE_THREAD_STATE = "update_thread_state"  # shipway-agents


def thread_state_workflow_id(thread_id: str, update_id: str) -> str:
    """Workflow id of one update of a thread's state: ``thread-state:{thread_id}:{update_id}`` (a UUID)."""
    return f"thread-state:{thread_id}:{update_id}"


class StateUpdateRefusal(StrEnum):
    """Why a thread's state was not updated: ``busy`` (an unfinished run holds the thread, or a graph step still runs on it),
    ``not_found`` (no such thread of the tenant, or no such checkpoint), ``invalid`` (LangGraph refused
    the update, e.g. an unknown ``as_node``), ``blocked`` (the run guards refused the values),
    ``unreadable`` (its checkpoints are encrypted under a key the worker is not configured with)."""

    BUSY = "busy"
    NOT_FOUND = "not_found"
    INVALID = "invalid"
    BLOCKED = "blocked"
    UNREADABLE = "unreadable"


@dataclass
class ThreadStateUpdate:
    """Write ``values`` to the thread's state as if node ``as_node`` had just run (None: LangGraph
    infers it), on top of its latest checkpoint or of ``checkpoint_id`` (a fork), with the graph of
    ``agent_name`` v``version`` (the version that served the thread's last run). ``values``: a JSON
    object, a list of them, or None. ``actor`` is audited; ``update_id`` (the workflow's UUID) marks the
    checkpoint it writes, so a retried attempt finds it instead of writing a second one."""

    thread_id: str
    tenant: str
    agent_name: str
    version: int
    values: Any = None
    as_node: str | None = None
    checkpoint_id: str | None = None
    actor: str = ""
    update_id: str = ""


@dataclass
class ThreadStateUpdated:
    """The new checkpoint (``{"thread_id", "checkpoint_ns", "checkpoint_id"}``); or ``refused`` with
    the ``reason`` (nothing written)."""

    checkpoint: dict[str, Any] | None = None
    refused: StateUpdateRefusal | None = None
    reason: str = ""
# == end of thread state updates ===================================================================
