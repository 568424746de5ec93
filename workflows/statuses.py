"""Status values shared by the database models, workflows, gateway, CLI and console, and the
state machines they move through (drawn in ``docs/architecture.md``).

Each is a ``StrEnum``: it compares equal to its text, so rows read back from PostgreSQL (plain
``str``) and JSON payloads compare with the members directly.
"""

from __future__ import annotations

from enum import StrEnum


class LifecycleStep(StrEnum):
    """Step of ``AgentLifecycleWorkflow`` (the ``status`` query's ``step``), in order."""

    VALIDATE = "validate"
    GUARD = "guard"
    SCAFFOLD = "scaffold"
    INDEX = "index"
    APPROVAL = "approval"
    DEPLOY = "deploy"
    LIVE = "live"


class VersionStatus(StrEnum):
    """Status of an agent version in the catalog (``agent_versions.status``)."""

    SUBMITTED = "submitted"
    VALIDATING = "validating"
    GUARDING = "guarding"
    SCAFFOLDING = "scaffolding"
    SCAFFOLDED = "scaffolded"
    INDEXING = "indexing"
    AWAITING_APPROVAL = "awaiting_approval"
    DEPLOYING = "deploying"
    LIVE = "live"
    SUPERSEDED = "superseded"
    REJECTED = "rejected"
    EXPIRED = "expired"
    ROLLED_BACK = "rolled_back"
    FAILED = "failed"

    @property
    def in_progress(self) -> bool:
        """True before the version is live or has ended (its lifecycle is still moving)."""
        return self in _IN_PROGRESS

    @property
    def final(self) -> bool:
        """True when no further transition is possible."""
        return not VERSION_TRANSITIONS[self]


_IN_PROGRESS = frozenset({
    VersionStatus.SUBMITTED, VersionStatus.VALIDATING, VersionStatus.GUARDING, VersionStatus.SCAFFOLDING,
    VersionStatus.SCAFFOLDED, VersionStatus.INDEXING, VersionStatus.AWAITING_APPROVAL, VersionStatus.DEPLOYING,
})

_V = VersionStatus
# The version state machine: status -> statuses it may move to. Anything before ``live`` may fail.
VERSION_TRANSITIONS: dict[VersionStatus, frozenset[VersionStatus]] = {
    _V.SUBMITTED: frozenset({_V.VALIDATING, _V.FAILED}),
    _V.VALIDATING: frozenset({_V.GUARDING, _V.FAILED}),
    _V.GUARDING: frozenset({_V.SCAFFOLDING, _V.FAILED}),
    _V.SCAFFOLDING: frozenset({_V.SCAFFOLDED, _V.FAILED}),
    _V.SCAFFOLDED: frozenset({_V.INDEXING, _V.FAILED}),
    _V.INDEXING: frozenset({_V.AWAITING_APPROVAL, _V.FAILED}),
    _V.AWAITING_APPROVAL: frozenset({_V.DEPLOYING, _V.REJECTED, _V.EXPIRED, _V.FAILED}),
    _V.DEPLOYING: frozenset({_V.LIVE, _V.ROLLED_BACK, _V.FAILED}),
    _V.LIVE: frozenset({_V.SUPERSEDED}),
    _V.SUPERSEDED: frozenset(),
    _V.REJECTED: frozenset(),
    _V.EXPIRED: frozenset(),
    _V.ROLLED_BACK: frozenset(),
    _V.FAILED: frozenset(),
}


class DeploymentState(StrEnum):
    """State of a rollout (``deployments.status``, ``DeploymentProgress.state``)."""

    IN_PROGRESS = "in_progress"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    ROLLED_BACK = "rolled_back"
    ABORTED = "aborted"
    FAILED = "failed"


DEPLOYMENT_TRANSITIONS: dict[DeploymentState, frozenset[DeploymentState]] = {
    DeploymentState.IN_PROGRESS: frozenset({DeploymentState.PAUSED, DeploymentState.SUCCEEDED, DeploymentState.ROLLED_BACK,
                                            DeploymentState.ABORTED, DeploymentState.FAILED}),
    DeploymentState.PAUSED: frozenset({DeploymentState.IN_PROGRESS, DeploymentState.ABORTED, DeploymentState.FAILED}),
    DeploymentState.SUCCEEDED: frozenset(),
    DeploymentState.ROLLED_BACK: frozenset(),
    DeploymentState.ABORTED: frozenset(),
    DeploymentState.FAILED: frozenset(),
}


class RunStatus(StrEnum):
    """Status of an agent run (``runs.status``). ``blocked``: the input guard stopped it before any
    node ran; ``withheld``: it finished but its output failed verification and was not released;
    ``budget_exceeded``: its LLM cost reached the spec's ``max_cost_usd`` and it stopped at the next
    node boundary, with the state it had so far as output (once that passed verification).
    ``cancelled``: stopped on request (the LangGraph Platform API's ``cancel``).
    ``refused`` is only a workflow outcome: the run never started (its thread belongs to another
    agent or tenant, or another run holds it), so no ``runs`` row exists."""

    RUNNING = "running"
    INTERRUPTED = "interrupted"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    BLOCKED = "blocked"
    WITHHELD = "withheld"
    REFUSED = "refused"
    BUDGET_EXCEEDED = "budget_exceeded"
    CANCELLED = "cancelled"

    @property
    def settled(self) -> bool:
        """True once the run waits for a human or has ended."""
        return self is not RunStatus.RUNNING


RUN_TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.RUNNING: frozenset({RunStatus.INTERRUPTED, RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.BLOCKED,
                                  RunStatus.WITHHELD, RunStatus.REFUSED, RunStatus.BUDGET_EXCEEDED, RunStatus.CANCELLED}),
    RunStatus.INTERRUPTED: frozenset({RunStatus.RUNNING, RunStatus.FAILED, RunStatus.CANCELLED}),
    RunStatus.SUCCEEDED: frozenset(),
    RunStatus.FAILED: frozenset(),
    RunStatus.BLOCKED: frozenset(),
    RunStatus.WITHHELD: frozenset(),
    RunStatus.REFUSED: frozenset(),
    RunStatus.BUDGET_EXCEEDED: frozenset(),
    RunStatus.CANCELLED: frozenset(),
}


class ApprovalKind(StrEnum):
    """What an approver decides (the ``approve`` / ``reject`` signals, the ``decide`` update)."""

    APPROVE = "approve"
    REJECT = "reject"


class CanaryVerdict(StrEnum):
    """What one canary analysis concluded, per metric and overall: ``breach`` rolls back;
    ``inconclusive`` (too few runs to judge) keeps the step baking, up to a limit, then rolls back;
    ``pass`` lets the rollout go on; ``not_judged``: a metric with nothing to compare against (e.g.
    cost without a stable version), which neither passes nor holds the step."""

    PASS = "pass"
    BREACH = "breach"
    INCONCLUSIVE = "inconclusive"
    NOT_JUDGED = "not_judged"


class ApprovalChannel(StrEnum):
    """Where an approval decision came from: a Jira webhook, the console, or the CLI (``shipway agent
    approve`` and ``temporal workflow signal``)."""

    JIRA = "jira"
    CONSOLE = "console"
    CLI = "cli"


class WebhookOutcome(StrEnum):
    """What became of one webhook delivery (``webhook_deliveries.outcome``).

    ``too_large``, ``unsigned`` and ``forged`` were refused before their payload was read;
    ``malformed`` verified but was not a Jira webhook payload; ``duplicate`` repeated a delivery
    already taken (same ``X-Atlassian-Webhook-Identifier``); ``ignored`` verified but decides
    nothing (another event or status, an issue Shipway did not open, Shipway's own change);
    ``signalled`` reached its workflow; ``dead_letter`` verified and mapped but could not be
    signalled, and waits for ``shipway webhooks replay``.
    """

    TOO_LARGE = "too_large"
    UNSIGNED = "unsigned"
    FORGED = "forged"
    MALFORMED = "malformed"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    SIGNALLED = "signalled"
    DEAD_LETTER = "dead_letter"


class GraphStepStatus(StrEnum):
    """How one execution of the graph activity ended. ``budget_exceeded``: the run's LLM cost reached
    its budget at a node boundary and the graph was stopped there (its thread keeps the state so far)."""

    COMPLETED = "completed"
    INTERRUPTED = "interrupted"
    BUDGET_EXCEEDED = "budget_exceeded"


# -- runbooks (workflows/runbooks/) -------------------------------------------------------------
class Runbook(StrEnum):
    """A runbook of the operations guide; each is one workflow (``workflows/runbooks/``). The value
    is the name ``shipway runbook start NAME`` and the console use."""

    HIGH_ERROR_RATE = "high-error-rate"
    CONNECTION_POOL = "connection-pool"
    SLOW_SEARCH = "slow-search"
    FAILED_DEPLOYMENT = "failed-deployment"
    WEBHOOK_FAILURES = "webhook-failures"
    BACKUP = "backup"
    RESTORE = "restore"
    RESTORE_DRILL = "restore-drill"


class RunbookStatus(StrEnum):
    """Status of one runbook run (``runbook_runs.status``): ``running`` (a step is working),
    ``waiting`` (a destructive step waits for ``confirm`` or ``skip``), then ``completed`` or ``failed``."""

    RUNNING = "running"
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"


class RunbookStepStatus(StrEnum):
    """Status of one step of a runbook run (``runbook_steps.status``). A diagnostic step goes
    ``running`` -> ``done`` | ``failed``. A remediation step goes ``awaiting_confirmation`` (possibly
    ``escalated`` when unanswered past the escalation time) -> ``confirmed`` -> ``done`` | ``failed``,
    or -> ``skipped`` (an operator's ``skip``) or ``timed_out`` (nobody answered by the deadline:
    nothing was changed). ``not_needed``: the findings showed nothing to remediate."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    ESCALATED = "escalated"
    CONFIRMED = "confirmed"
    SKIPPED = "skipped"
    TIMED_OUT = "timed_out"
    NOT_NEEDED = "not_needed"


class RunbookTrigger(StrEnum):
    """What started a runbook run (``runbook_runs.trigger``)."""

    OPERATOR = "operator"
    SCHEDULE = "schedule"
    CANARY_ROLLBACK = "canary_rollback"
    ERROR_RATE = "error_rate"
    DEAD_LETTERS = "dead_letters"
