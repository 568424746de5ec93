"""``AgentLifecycleWorkflow`` (id ``agent:{name}:v{n}``): spec -> guard -> scaffold -> index ->
approval -> deploy -> live. Every step writes an audit event; query ``status`` gives the step."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError

from workflows.deployment import DeploymentWorkflow
from workflows.types import (
    QUERY_STATUS,
    SA_STEP,
    SIGNAL_APPROVE,
    SIGNAL_REJECT,
    ApprovalDecision,
    ApprovalRecord,
    AuditRecord,
    DeploymentInput,
    DeploymentProgress,
    LifecycleInput,
    LifecycleStatus,
    VersionStatus,
)

_SHORT = dict(start_to_close_timeout=timedelta(seconds=60), retry_policy=RetryPolicy(maximum_attempts=10))
_NO_RETRY_TYPES = ["SpecError", "PiiInSpec", "ScaffoldTestsFailed"]


@workflow.defn(name="AgentLifecycleWorkflow")
class AgentLifecycleWorkflow:
    """One agent version from submitted spec to live. Signals ``approve``/``reject`` carry
    :class:`ApprovalDecision`; the owner's own approval is refused and recorded."""

    def __init__(self) -> None:
        self._status: LifecycleStatus | None = None
        self._decisions: list[tuple[str, ApprovalDecision]] = []

    @workflow.run
    async def run(self, inp: LifecycleInput) -> LifecycleStatus:
        self._inp = inp
        self._subject = f"agent:{inp.name}:v{inp.version}"
        self._status = LifecycleStatus(name=inp.name, version=inp.version, step="validate", state="running")
        await self._audit(inp.submitted_by, "lifecycle.submitted", {"spec": inp.spec})
        try:
            spec = await self._step("validate", "validate_spec", inp, "validating")
            self._status.owner = spec["owner"]
            await workflow.execute_activity("store_validated_spec", args=[inp.name, inp.version, spec], **_SHORT)
            await self._step("guard", "guard_spec", spec, "guarding")
            art = await self._step("scaffold", "scaffold_agent", [spec, inp.version], "scaffolding", timeout=timedelta(minutes=10))
            self._status.artifact_sha256 = art["artifact_sha256"]
            await self._set_status("scaffolded", art["artifact_sha256"], art["artifact_path"])
            await self._step("index", "index_agent", [inp.name, inp.version, spec["description"]], "indexing", timeout=timedelta(minutes=5))
        except ActivityError as err:
            return await self._fail(err)

        decision = await self._await_approval(spec["owner"], inp)
        if decision is None:
            return self._status
        kind, d = decision
        if kind == "reject":
            self._status.state, self._status.detail = "rejected", f"rejected by {d.approver}: {d.reason}"
            await self._set_status("rejected")
            await self._audit(d.approver, "lifecycle.rejected", {"reason": d.reason})
            return self._status

        self._enter("deploy")
        await self._set_status("deploying")
        dep = spec.get("deployment") or {}
        try:
            progress: DeploymentProgress = await workflow.execute_child_workflow(
                DeploymentWorkflow.run,
                DeploymentInput(name=inp.name, version=inp.version, strategy=dep.get("strategy", "AllAtOnce"),
                                target=dep.get("target", "local"), actor=d.approver),
                id=f"deploy:{inp.name}:v{inp.version}",
            )
        except ChildWorkflowError as err:
            return await self._fail(err)
        await self._audit("shipway", "lifecycle.deployed", {"deployment": progress.state, "detail": progress.detail})
        if progress.state != "succeeded":
            self._status.state, self._status.detail = "rolled_back", progress.detail
            await self._set_status("rolled_back")
            return self._status
        self._enter("live")
        self._status.state = "live"
        await self._set_status("live")
        await self._audit("shipway", "lifecycle.live", {"artifact_sha256": self._status.artifact_sha256})
        return self._status

    async def _await_approval(self, owner: str, inp: LifecycleInput) -> tuple[str, ApprovalDecision] | None:
        """Wait for an acceptable decision; refuse (and record) the owner's; send reminders; expire."""
        self._enter("approval")
        await self._set_status("awaiting_approval")
        await self._audit("shipway", "lifecycle.approval_requested", {"owner": owner})
        deadline = workflow.now() + timedelta(seconds=inp.approval_timeout_s)
        while True:
            while self._decisions:
                kind, d = self._decisions.pop(0)
                if d.approver.strip().lower() == owner.strip().lower():
                    why = "approver is the agent's owner; a different person must decide"
                    self._status.refused.append(f"{d.approver}: {why}")
                    await workflow.execute_activity("record_approval", ApprovalRecord(
                        inp.name, inp.version, kind, d.approver, d.reason, accepted=False, refusal_reason=why), **_SHORT)
                    await self._audit(d.approver, "lifecycle.approval_refused", {"decision": kind, "why": why})
                    continue
                await workflow.execute_activity("record_approval", ApprovalRecord(
                    inp.name, inp.version, kind, d.approver, d.reason, accepted=True), **_SHORT)
                self._status.approver = d.approver
                await self._audit(d.approver, f"lifecycle.decision.{kind}", {"reason": d.reason})
                return kind, d
            remaining = (deadline - workflow.now()).total_seconds()
            if remaining <= 0:
                self._status.state, self._status.detail = "failed", "approval deadline passed"
                await self._set_status("expired")
                await self._audit("shipway", "lifecycle.approval_expired", {})
                return None
            try:
                await workflow.wait_condition(lambda: bool(self._decisions), timeout=timedelta(seconds=min(remaining, inp.reminder_every_s)))
            except TimeoutError:
                if (deadline - workflow.now()).total_seconds() > 0:
                    await self._audit("shipway", "lifecycle.approval_reminder", {"owner": owner})

    async def _step(self, step: str, activity: str, arg, status: str, timeout: timedelta = timedelta(seconds=60)):
        self._enter(step)
        await self._set_status(status)
        args = arg if isinstance(arg, list) else [arg]
        result = await workflow.execute_activity(
            activity, args=args, start_to_close_timeout=timeout, heartbeat_timeout=timedelta(seconds=60),
            retry_policy=RetryPolicy(maximum_attempts=3, non_retryable_error_types=_NO_RETRY_TYPES))
        await self._audit("shipway", f"lifecycle.{step}.ok", {"activity": activity})
        return result

    def _enter(self, step: str) -> None:
        self._status.step = step
        workflow.upsert_search_attributes([SA_STEP.value_set(step)])

    async def _set_status(self, status: str, sha: str | None = None, path: str | None = None) -> None:
        await workflow.execute_activity("set_version_status", VersionStatus(self._inp.name, self._inp.version, status, sha, path), **_SHORT)

    async def _audit(self, actor: str, action: str, detail: dict) -> None:
        await workflow.execute_activity("record_audit", AuditRecord(actor, action, self._subject, detail), **_SHORT)

    async def _fail(self, err: Exception) -> LifecycleStatus:
        cause = err.cause if getattr(err, "cause", None) else err
        message = str(cause)
        self._status.state, self._status.detail = "failed", message
        await self._set_status("failed")
        await self._audit("shipway", f"lifecycle.{self._status.step}.failed", {"error": message})
        raise ApplicationError(f"{self._status.step} failed: {message}", type=getattr(cause, "type", None) or "LifecycleFailed",
                               non_retryable=True)

    @workflow.query(name=QUERY_STATUS)
    def status(self) -> LifecycleStatus:
        """The current step, state, owner, refused approvals and artifact hash."""
        return self._status

    @workflow.signal(name=SIGNAL_APPROVE)
    def approve(self, d: ApprovalDecision) -> None:
        """An approver approves (who and why)."""
        self._decisions.append(("approve", d))

    @workflow.signal(name=SIGNAL_REJECT)
    def reject(self, d: ApprovalDecision) -> None:
        """An approver rejects (who and why)."""
        self._decisions.append(("reject", d))
