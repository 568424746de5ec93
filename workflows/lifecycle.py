"""``AgentLifecycleWorkflow`` (id ``agent:{name}:v{n}``): register -> validate -> guard -> scaffold ->
index -> approval -> deploy -> live, until superseded. Every step writes an audit event; query
``status`` gives the step and the version's status.

Approvals arrive as ``approve`` / ``reject`` signals (the Jira webhook, ``temporal workflow
signal``) or the ``decide`` update (console and CLI, which want the outcome). The workflow applies
the approval policy itself: a malformed decision, one without an approver, one from a Jira account
not mapped to a Shipway identity, the owner's own, a rejection without a reason, a second approval
by the same person, or one after the version was decided is refused and recorded (an ``approvals``
row and an audit event); the update answers the refusal to its caller. A version whose spec
declares ``restricted`` data needs two distinct approvers; one rejection ends it.

The approval request is mirrored to Jira when Jira is configured: its issue is opened when the
approval step starts, and reminders, decisions, refusals, the rollout and its end are commented on
it, in order, by a background coroutine whose activities retry until Jira answers. Jira being down
never holds up the approval or the rollout; the workflow only closes once Jira has heard everything.
Histories recorded before the ``jira-approvals`` patch replay the earlier policy without Jira.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError

from workflows.deployment import DeploymentWorkflow
from workflows.statuses import ApprovalChannel, ApprovalKind, DeploymentState, LifecycleStep, VersionStatus
from workflows.types import (
    WORKFLOW_FAILURE_TYPES,
    GUARD_SPEC,
    INDEX_AGENT,
    LIFECYCLE_WORKFLOW,
    NOTE_APPROVAL_REQUEST,
    OPEN_APPROVAL_REQUEST,
    PATCH_JIRA_APPROVALS,
    QUERY_STATUS,
    RECORD_APPROVAL,
    RECORD_AUDIT,
    REGISTER_VERSION,
    SA_STEP,
    SCAFFOLD_AGENT,
    SET_VERSION_STATUS,
    SIGNAL_APPROVE,
    SIGNAL_REJECT,
    SIGNAL_SUPERSEDED,
    STORE_VALIDATED_SPEC,
    UPDATE_DECIDE,
    UPDATE_LIFECYCLE_SETTLED,
    VALIDATE_SPEC,
    ApprovalNoteInput,
    ApprovalNoteResult,
    ApprovalOutcome,
    ApprovalRecord,
    ApprovalRecordResult,
    ApprovalRequest,
    AuditRecord,
    AuditResult,
    CanaryThresholds,
    DeploymentInput,
    DeploymentProgress,
    DeploymentStep,
    GuardSpecInput,
    GuardSpecResult,
    IndexInput,
    IndexResult,
    LifecycleInput,
    LifecycleStatus,
    OpenApprovalRequestInput,
    OpenApprovalRequestResult,
    RefusedDecision,
    RegisterVersionInput,
    RegisterVersionResult,
    ScaffoldInput,
    ScaffoldResult,
    SetVersionStatusInput,
    SetVersionStatusResult,
    StoreSpecInput,
    StoreSpecResult,
    SupersededNotice,
    ValidateSpecInput,
    ValidateSpecResult,
    deployment_workflow_id,
)

_SHORT = dict(start_to_close_timeout=timedelta(seconds=60), retry_policy=RetryPolicy(maximum_attempts=10))
_NO_RETRY_TYPES = ["SpecError", "PiiInSpec", "ScaffoldTestsFailed"]
# Jira calls retry until Jira answers (no attempt limit): an approval request is never dropped.
_JIRA = dict(start_to_close_timeout=timedelta(seconds=60),
             retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=5)))
_SIGNAL_KEYS = {"approver", "reason", "channel", "jira_account", "jira_issue"}


@dataclass
class _Decision:
    """A decision as it arrived, before the workflow judged it. ``problem`` is set when its payload
    was unusable; ``ticket`` identifies the ``decide`` update waiting for the outcome (None: a signal)."""

    kind: str
    approver: str
    reason: str
    channel: str
    problem: str | None = None
    raw: Any = None
    ticket: int | None = None
    jira_account: str | None = None

    @property
    def who(self) -> str:
        """The approver, or the Jira account of an unmapped one."""
        return self.approver or (f"jira:{self.jira_account}" if self.jira_account else "")


def decision_from_signal(kind: str, raw: Any) -> _Decision:
    """Read an ``approve``/``reject`` signal payload (:class:`~workflows.types.ApprovalDecision`);
    a malformed one keeps its ``problem``."""
    if not isinstance(raw, dict):
        return _Decision(kind, "", "", ApprovalChannel.CLI, problem=f"malformed {kind} signal: expected a JSON object "
                         f"{{\"approver\", \"reason\"}}, got {type(raw).__name__}", raw=raw)
    approver, reason = raw.get("approver"), raw.get("reason", "")
    channel, account = raw.get("channel", ApprovalChannel.CLI), raw.get("jira_account")
    text_fields = all(isinstance(v, str) for v in (approver, reason, channel)) and all(
        raw.get(k) is None or isinstance(raw.get(k), str) for k in ("jira_account", "jira_issue"))
    if not text_fields or set(raw) - _SIGNAL_KEYS or channel not in tuple(ApprovalChannel):
        return _Decision(kind, approver if isinstance(approver, str) else "", reason if isinstance(reason, str) else "",
                         ApprovalChannel.CLI, raw=raw,
                         problem=f"malformed {kind} signal: 'approver' and 'reason' must be text, 'channel' one of "
                                 f"{', '.join(ApprovalChannel)}, and nothing else but 'jira_account' and 'jira_issue'")
    return _Decision(kind, approver.strip(), reason.strip(), channel, raw=raw, jira_account=account)


@workflow.defn(name=LIFECYCLE_WORKFLOW, failure_exception_types=WORKFLOW_FAILURE_TYPES)
class AgentLifecycleWorkflow:
    """One agent version from submitted spec to live, and on until a newer version supersedes it."""

    def __init__(self) -> None:
        self._status: LifecycleStatus | None = None
        self._pending: list[_Decision] = []
        self._outcomes: dict[int, ApprovalOutcome] = {}
        self._tickets = 0
        self._decided: _Decision | None = None
        self._superseded: SupersededNotice | None = None
        self._v2 = False  # the jira-approvals patch: Jira, two approvers for restricted data, reasons for rejections
        self._findings: list = []
        self._jira_ops: list[tuple[str, str | None]] = []  # (comment, move_to) waiting to be said on the issue
        self._jira_state = "off"  # off -> opening -> idle <-> busy, or off again when Jira is not configured
        self._jira_task: asyncio.Task | None = None

    @workflow.run
    async def run(self, inp: LifecycleInput) -> LifecycleStatus:
        self._inp = inp
        self._v2 = workflow.patched(PATCH_JIRA_APPROVALS)
        self._subject = f"agent:{inp.name}:v{inp.version}"
        self._status = LifecycleStatus(name=inp.name, version=inp.version, step=LifecycleStep.VALIDATE,
                                       status=VersionStatus.SUBMITTED)
        try:
            return await self._lifecycle(inp)
        except Exception as err:  # any failure ends the version as failed, visibly, instead of a retried task
            return await self._fail(err)

    async def _lifecycle(self, inp: LifecycleInput) -> LifecycleStatus:
        await self._call(REGISTER_VERSION, RegisterVersionInput(inp.name, inp.version, inp.spec, inp.submitted_by,
                                                                workflow.info().workflow_id), RegisterVersionResult)
        await self._audit(inp.submitted_by, "lifecycle.submitted", {"spec": inp.spec})
        spec = (await self._step(LifecycleStep.VALIDATE, VersionStatus.VALIDATING, VALIDATE_SPEC,
                                 ValidateSpecInput(inp.name, inp.spec), ValidateSpecResult)).spec
        self._status.owner = (await self._call(STORE_VALIDATED_SPEC, StoreSpecInput(inp.name, inp.version, spec), StoreSpecResult)).owner
        self._findings = (await self._step(LifecycleStep.GUARD, VersionStatus.GUARDING, GUARD_SPEC, GuardSpecInput(spec),
                                           GuardSpecResult)).findings
        art = await self._step(LifecycleStep.SCAFFOLD, VersionStatus.SCAFFOLDING, SCAFFOLD_AGENT, ScaffoldInput(spec, inp.version),
                               ScaffoldResult, timeout=timedelta(minutes=10))
        self._status.artifact_sha256 = art.artifact_sha256
        await self._set_status(VersionStatus.SCAFFOLDED, artifact=art)
        await self._step(LifecycleStep.INDEX, VersionStatus.INDEXING, INDEX_AGENT, IndexInput(inp.name, inp.version, spec["description"]),
                         IndexResult, timeout=timedelta(minutes=5))

        decision = await self._await_approval(spec)
        if decision is None:
            await self._set_status(VersionStatus.EXPIRED, "approval deadline passed")
            await self._audit("shipway", "lifecycle.approval_expired", {})
            self._jira_note("The approval deadline passed: this version expired and will not be deployed.")
            return await self._settle()
        if decision.kind == ApprovalKind.REJECT:
            await self._set_status(VersionStatus.REJECTED, f"rejected by {decision.approver}: {decision.reason}")
            await self._audit(decision.approver, "lifecycle.rejected", {"reason": decision.reason})
            return await self._settle()

        self._enter(LifecycleStep.DEPLOY)
        await self._set_status(VersionStatus.DEPLOYING)
        dep = spec.get("deployment") or {}
        steps = [DeploymentStep(s["weight_pct"], s.get("bake_s", 0.0)) for s in dep.get("steps") or ()] or None
        progress: DeploymentProgress = await workflow.execute_child_workflow(
            DeploymentWorkflow.run,
            DeploymentInput(name=inp.name, version=inp.version, strategy=dep.get("strategy", "AllAtOnce"),
                            target=dep.get("target", "local"), steps=steps, actor=decision.approver,
                            thresholds=CanaryThresholds(**dep["thresholds"]) if dep.get("thresholds") else None,
                            bake_scale=inp.bake_scale),
            id=deployment_workflow_id(inp.name, inp.version),
        )
        await self._refuse_late_decisions()
        await self._audit("shipway", "lifecycle.deployed", {"deployment": progress.state, "detail": progress.detail})
        self._jira_note(_rollout_report(progress))
        if progress.state != DeploymentState.SUCCEEDED:
            await self._set_status(VersionStatus.ROLLED_BACK, progress.detail)
            self._jira_note(f"Rolled back: {progress.detail or progress.state}. The previous version keeps serving.")
            return await self._settle()
        self._enter(LifecycleStep.LIVE)
        await self._set_status(VersionStatus.LIVE)
        await self._audit("shipway", "lifecycle.live", {"artifact_sha256": self._status.artifact_sha256})
        self._jira_note(f"Live: v{inp.version} serves the agent's traffic (artifact SHA-256 {self._status.artifact_sha256}).")

        while self._superseded is None:
            await workflow.wait_condition(lambda: self._superseded is not None or bool(self._pending))
            await self._refuse_late_decisions()
        by = self._superseded.by_version
        await self._set_status(VersionStatus.SUPERSEDED, f"superseded by v{by}")
        await self._audit("shipway", "lifecycle.superseded", {"by_version": by})
        self._jira_note(f"Superseded by v{by}.")
        return await self._settle()

    # -- approval ----------------------------------------------------------------------------------
    async def _await_approval(self, spec: dict) -> _Decision | None:
        """Wait until the version is decided (a rejection, or as many distinct approvals as it needs);
        refuse (and record) every other decision; send reminders; expire (None) at the deadline."""
        self._enter(LifecycleStep.APPROVAL)
        await self._set_status(VersionStatus.AWAITING_APPROVAL)
        if self._v2 and spec.get("data_classification") == "restricted":
            self._status.required_approvers = 2
        await self._audit("shipway", "lifecycle.approval_requested",
                          {"owner": self._status.owner, "required_approvers": self._status.required_approvers})
        if self._v2:
            self._jira_state = "opening"
            self._jira_task = asyncio.create_task(self._mirror_to_jira(spec))
        deadline = workflow.now() + timedelta(seconds=self._inp.approval_timeout_s)
        while True:
            while self._pending:
                d = self._pending.pop(0)
                why = self._refusal(d)
                if why:
                    await self._refuse(d, why)
                    continue
                if await self._accept(d):
                    await self._refuse_late_decisions()
                    return d
            remaining = (deadline - workflow.now()).total_seconds()
            if remaining <= 0:
                return None
            try:
                await workflow.wait_condition(lambda: bool(self._pending),
                                              timeout=timedelta(seconds=min(remaining, self._inp.reminder_every_s)))
            except TimeoutError:
                if (deadline - workflow.now()).total_seconds() > 0:
                    await self._audit("shipway", "lifecycle.approval_reminder", {"owner": self._status.owner})
                    self._jira_note(f"Reminder: still waiting for approval ({len(self._status.approvers)} of "
                                    f"{self._status.required_approvers} approvals). The request expires at "
                                    f"{deadline:%Y-%m-%d %H:%M} UTC.")

    async def _accept(self, d: _Decision) -> bool:
        """Record an acceptable decision; True when it decides the version (False: an approval that
        still needs another approver)."""
        approvals, required = len(self._status.approvers), self._status.required_approvers
        if d.kind == ApprovalKind.APPROVE:
            self._status.approvers.append(d.approver)
            approvals += 1
        await self._record_decision(d, accepted=True)
        detail = {"reason": d.reason, "channel": d.channel, "approvals": approvals, "required": required}
        if d.jira_account:
            detail["jira_account"] = d.jira_account
        await self._audit(d.approver, f"lifecycle.decision.{d.kind}", detail)
        self._answer(d, ApprovalOutcome(ApprovalKind(d.kind), d.approver, accepted=True, approvals=approvals, required=required))
        if d.kind == ApprovalKind.APPROVE and approvals < required:
            self._jira_note(f"Approval {approvals} of {required} by {d.approver} via {d.channel}: {d.reason or '(no reason)'}. "
                            f"Restricted data: a second, different approver is needed.",
                            move_to="pending" if d.channel == ApprovalChannel.JIRA else None)
            return False
        self._decided = d
        self._status.approver = d.approver
        verb = "Approved" if d.kind == ApprovalKind.APPROVE else "Rejected"
        self._jira_note(f"{verb} by {d.approver} via {d.channel}: {d.reason or '(no reason)'}.",
                        move_to=None if d.channel == ApprovalChannel.JIRA else d.kind)
        return True

    def _refusal(self, d: _Decision) -> str | None:
        """Why ``d`` cannot decide this version, or None when it can."""
        if d.problem:
            return d.problem
        if self._v2 and d.channel == ApprovalChannel.JIRA and not d.approver:
            return (f"Jira account {d.jira_account or '(unknown)'} is not mapped to a Shipway identity "
                    f"(setting jira_users); an unmapped account cannot approve")
        if not d.approver:
            return "an approver must be named"
        if d.approver.lower() == self._status.owner.strip().lower():
            return "approver is the agent's owner; a different person must decide"
        if self._decided is not None:
            return f"version was already decided ({self._decided.kind} by {self._decided.approver})"
        if self._v2 and d.kind == ApprovalKind.REJECT and not d.reason:
            return "a rejection must carry a reason"
        if self._v2 and d.kind == ApprovalKind.APPROVE and d.approver.lower() in (a.lower() for a in self._status.approvers):
            return (f"{d.approver} already approved; restricted data needs {self._status.required_approvers} "
                    f"different approvers")
        return None

    async def _refuse(self, d: _Decision, why: str) -> None:
        self._status.refused.append(RefusedDecision(d.kind, d.who, why, d.channel))
        await self._record_decision(d, accepted=False, why=why)
        await self._audit(d.who or "unknown", "lifecycle.approval_refused",
                          {"decision": d.kind, "why": why, "channel": d.channel, "payload": d.raw})
        self._answer(d, ApprovalOutcome(ApprovalKind(d.kind), d.approver, accepted=False, refusal_reason=why))
        awaiting = self._decided is None and self._status.step == LifecycleStep.APPROVAL
        self._jira_note(f"The {d.kind} by {d.who or '(nobody)'} via {d.channel} was refused: {why}.",
                        move_to="pending" if awaiting and d.channel == ApprovalChannel.JIRA else None)

    # -- Jira ----------------------------------------------------------------------------------------
    async def _mirror_to_jira(self, spec: dict) -> None:
        """Open the approval request (and its Jira issue), then say each queued note on the issue, in
        order. Runs beside the approval and the rollout; its activities retry until Jira answers."""
        try:
            await self._say_to_jira(spec)
        except ActivityError as err:  # only a cancelled or timed-out activity gets here: stop mirroring, visibly
            self._jira_state, self._jira_ops = "off", []
            await self._audit("shipway", "lifecycle.jira_mirror_stopped", {"error": str(err.cause or err)})

    async def _say_to_jira(self, spec: dict) -> None:
        opened: OpenApprovalRequestResult = await workflow.execute_activity(
            OPEN_APPROVAL_REQUEST,
            OpenApprovalRequestInput(self._inp.name, self._inp.version, workflow.info().workflow_id, self._status.owner, spec,
                                     self._status.artifact_sha256 or "", self._findings, self._status.required_approvers),
            result_type=OpenApprovalRequestResult, **_JIRA)
        if not opened.jira_key:
            self._jira_state, self._jira_ops = "off", []
            return
        self._status.jira_key, self._status.jira_url = opened.jira_key, opened.jira_url
        while True:
            self._jira_state = "idle"
            await workflow.wait_condition(lambda: bool(self._jira_ops))
            self._jira_state = "busy"
            comment, move_to = self._jira_ops.pop(0)
            said: ApprovalNoteResult = await workflow.execute_activity(
                NOTE_APPROVAL_REQUEST, ApprovalNoteInput(self._inp.name, self._inp.version, opened.jira_key, comment, move_to),
                result_type=ApprovalNoteResult, **_JIRA)
            if said.refused:
                await self._audit("shipway", "lifecycle.jira_note_refused", {"jira_key": opened.jira_key, "error": said.refused,
                                                                             "note": comment})

    def _jira_note(self, comment: str, move_to: str | None = None) -> None:
        """Queue a comment (and a move: approve | reject | pending) for the version's Jira issue."""
        if self._jira_state != "off":
            self._jira_ops.append((comment, move_to))

    def _jira_quiet(self) -> bool:
        return self._jira_state == "off" or (self._jira_state == "idle" and not self._jira_ops)

    async def _refuse_late_decisions(self) -> None:
        while self._pending:
            d = self._pending.pop(0)
            await self._refuse(d, self._refusal(d) or "version is not awaiting approval")

    async def _record_decision(self, d: _Decision, accepted: bool, why: str | None = None) -> None:
        await self._call(RECORD_APPROVAL, ApprovalRecord(self._inp.name, self._inp.version, d.kind, d.who, d.reason,
                                                         accepted=accepted, refusal_reason=why, channel=d.channel), ApprovalRecordResult)

    def _answer(self, d: _Decision, outcome: ApprovalOutcome) -> None:
        if d.ticket is not None:
            self._outcomes[d.ticket] = outcome

    # -- steps, status, audit ---------------------------------------------------------------------
    async def _call(self, activity: str, arg: Any, result_type: type, **options: Any) -> Any:
        return await workflow.execute_activity(activity, arg, result_type=result_type, **(options or _SHORT))

    async def _step(self, step: LifecycleStep, status: VersionStatus, activity: str, arg: Any, result_type: type,
                    timeout: timedelta = timedelta(seconds=60)) -> Any:
        self._enter(step)
        await self._set_status(status)
        result = await self._call(activity, arg, result_type, start_to_close_timeout=timeout, heartbeat_timeout=timedelta(seconds=60),
                                  retry_policy=RetryPolicy(maximum_attempts=3, non_retryable_error_types=_NO_RETRY_TYPES))
        await self._audit("shipway", f"lifecycle.{step}.ok", {"activity": activity})
        return result

    def _enter(self, step: LifecycleStep) -> None:
        self._status.step = step
        workflow.upsert_search_attributes([SA_STEP.value_set(step)])

    async def _set_status(self, status: VersionStatus, detail: str = "", artifact: ScaffoldResult | None = None) -> None:
        await self._call(SET_VERSION_STATUS, SetVersionStatusInput(
            self._inp.name, self._inp.version, status, detail, artifact.artifact_sha256 if artifact else None,
            artifact.manifest if artifact else None), SetVersionStatusResult)
        self._status.status, self._status.detail = status, detail

    async def _audit(self, actor: str, action: str, detail: dict) -> None:
        await self._call(RECORD_AUDIT, AuditRecord(actor, action, self._subject, detail), AuditResult)

    async def _settle(self) -> LifecycleStatus:
        """Let waiting update handlers answer, and Jira hear everything, before the workflow closes;
        returns the final status."""
        await workflow.wait_condition(lambda: workflow.all_handlers_finished() and self._jira_quiet())
        return self._status

    async def _fail(self, err: BaseException) -> LifecycleStatus:
        cause = err.cause if isinstance(err, (ActivityError, ChildWorkflowError)) and err.cause else err
        message = str(cause) or type(cause).__name__
        kind = getattr(cause, "type", None) or type(cause).__name__
        if self._status.status.in_progress:
            await self._set_status(VersionStatus.FAILED, message)
            await self._audit("shipway", f"lifecycle.{self._status.step}.failed", {"error": message, "type": kind})
            self._jira_note(f"The lifecycle failed at step {self._status.step}: {message}")
        await self._settle()
        raise ApplicationError(f"{self._status.step} failed: {message}", type=kind, non_retryable=True)

    # -- handlers ----------------------------------------------------------------------------------
    @workflow.query(name=QUERY_STATUS)
    def status(self) -> LifecycleStatus:
        """The current step and status, owner, refused decisions and artifact hash."""
        return self._status

    @workflow.update(name=UPDATE_LIFECYCLE_SETTLED)
    async def wait_settled(self) -> LifecycleStatus:
        """Return once the version is live or its lifecycle has ended (rejected, expired, failed, rolled back)."""
        await workflow.wait_condition(lambda: self._status is not None and not self._status.status.in_progress)
        return self._status

    @workflow.signal(name=SIGNAL_APPROVE)
    def approve(self, raw: Any) -> None:
        """An approver approves: ``{"approver", "reason"}`` (:class:`~workflows.types.ApprovalDecision`)."""
        self._pending.append(decision_from_signal(ApprovalKind.APPROVE, raw))

    @workflow.signal(name=SIGNAL_REJECT)
    def reject(self, raw: Any) -> None:
        """An approver rejects: ``{"approver", "reason"}`` (:class:`~workflows.types.ApprovalDecision`)."""
        self._pending.append(decision_from_signal(ApprovalKind.REJECT, raw))

    @workflow.signal(name=SIGNAL_SUPERSEDED)
    def superseded(self, notice: SupersededNotice) -> None:
        """A newer version went live (sent by its ``DeploymentWorkflow``)."""
        self._superseded = notice

    @workflow.update(name=UPDATE_DECIDE)
    async def decide(self, req: ApprovalRequest) -> ApprovalOutcome:
        """Approve or reject and wait for the outcome. A refusal fails the update with its reason
        (type ``ApprovalRefused``) after it was recorded."""
        self._tickets += 1
        ticket = self._tickets
        self._pending.append(_Decision(req.decision, req.approver.strip(), req.reason.strip(), req.channel,
                                       raw={"decision": req.decision, "approver": req.approver, "reason": req.reason},
                                       ticket=ticket))
        await workflow.wait_condition(lambda: ticket in self._outcomes)
        outcome = self._outcomes.pop(ticket)
        if not outcome.accepted:
            raise ApplicationError(outcome.refusal_reason, type="ApprovalRefused")
        return outcome

    @decide.validator
    def _validate_decide(self, req: ApprovalRequest) -> None:
        if self._status is None or self._status.step != LifecycleStep.APPROVAL or self._decided is not None:
            where = f"step {self._status.step}, status {self._status.status}" if self._status else "starting"
            raise ValueError(f"version is not awaiting approval ({where})")
        if req.decision not in tuple(ApprovalKind):
            raise ValueError(f"decision must be one of {', '.join(ApprovalKind)}, not {req.decision!r}")
        if req.channel not in (ApprovalChannel.CONSOLE, ApprovalChannel.CLI):
            raise ValueError(f"channel must be console or cli (Jira decides through the webhook), not {req.channel!r}")
        if not isinstance(req.approver, str) or not req.approver.strip():
            raise ValueError("an approver must be named")
        if not isinstance(req.reason, str) or not req.reason.strip():
            raise ValueError("a reason must be given; it goes to the audit log")



def _rollout_report(progress: DeploymentProgress) -> str:
    """The rollout's end and each canary analysis, as a Jira comment."""
    lines = [f"Deployment {progress.state} ({progress.strategy}, step {progress.step_index} of {progress.steps_total}, "
             f"{progress.weight_pct:g}% of traffic on the new version). {progress.detail}".strip()]
    for i, a in enumerate(progress.analyses, 1):
        c, b = a.canary, a.baseline
        verdict = f"breach: {', '.join(a.reasons)}" if a.breach else str(a.verdict)
        baseline = (f"; stable: {b.finished} runs, error rate {_pct(b.error_rate)}, p99 {_ms(b.p99_ms)}, cost/run {_usd(b.cost_per_run_usd)}"
                    if b else "")
        lines.append(f"Canary analysis {i}: {verdict}. Canary: {c.finished} runs, error rate {_pct(c.error_rate)}, "
                     f"p99 {_ms(c.p99_ms)}, cost/run {_usd(c.cost_per_run_usd)}{baseline}.")
    return "\n\n".join(lines)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def _ms(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.0f} ms"


def _usd(x: float | None) -> str:
    return "n/a" if x is None else f"${x:.4f}"
