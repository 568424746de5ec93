"""``AuditVerificationWorkflow`` (task queue ``shipway-control``): one verification of the audit log's
hash chain, started every day by the Temporal Schedule ``audit-verification-daily`` (and on demand).
The activity walks the chain and records the result as an audit event; a broken chain fails the
workflow, so the Temporal UI and the schedule's recent actions show it in red."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from workflows.types import VERIFY_AUDIT_CHAIN, AuditChainCheck, AuditChainReport


@workflow.defn(name="AuditVerificationWorkflow")
class AuditVerificationWorkflow:
    """Verify the audit chain once; returns the report, fails with ``AuditChainBroken`` when broken."""

    @workflow.run
    async def run(self, inp: AuditChainCheck) -> AuditChainReport:
        report = await workflow.execute_activity(
            VERIFY_AUDIT_CHAIN, inp, result_type=AuditChainReport, start_to_close_timeout=timedelta(minutes=30),
            retry_policy=RetryPolicy(maximum_attempts=3))
        if not report.intact:
            raise ApplicationError(f"audit chain broken at event {report.broken_event_id}", type="AuditChainBroken",
                                   non_retryable=True)
        return report
