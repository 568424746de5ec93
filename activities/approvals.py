"""Approval decisions, accepted or refused (the only writer of ``approvals``)."""

from __future__ import annotations

from temporalio import activity

from shipway.db.engine import Database
from shipway.db.models import Approval
from workflows.types import RECORD_APPROVAL, ApprovalRecord, ApprovalRecordResult


class ApprovalActivities:
    """Writes of approval decisions sent to lifecycle workflows."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @activity.defn(name=RECORD_APPROVAL)
    async def record_approval(self, rec: ApprovalRecord) -> ApprovalRecordResult:
        """Insert one decision (``accepted`` or refused with ``refusal_reason``); returns its id."""
        row = Approval(agent_name=rec.name, version=rec.version, decision=rec.decision, approver=rec.approver,
                       reason=rec.reason, accepted=rec.accepted, refusal_reason=rec.refusal_reason, channel=rec.channel)
        async with self.db.session() as session:
            session.add(row)
            await session.commit()
            return ApprovalRecordResult(approval_id=row.id)
