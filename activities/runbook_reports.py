"""Runbook runs and their steps: the only writer of ``runbook_runs`` and ``runbook_steps``.

A save is the whole run so far, upserted in one transaction, so a retried save, or one that comes
late because the database was away (a Restore runbook), converges on the workflow's state.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects.postgresql import insert
from temporalio import activity

from shipway.db.engine import Database
from shipway.db.models import RunbookRun, RunbookStep
from workflows.runbook_types import SAVE_RUNBOOK_STATE, SavedRunbookState, SaveRunbookState


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class RunbookReportActivities:
    """Stores runbook state in the catalog database ``db``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @activity.defn(name=SAVE_RUNBOOK_STATE)
    async def save_runbook_state(self, inp: SaveRunbookState) -> SavedRunbookState:
        """Upsert the run's row and one row per step (times ISO-8601 UTC in the state)."""
        st = inp.state
        run = dict(id=st.id, runbook=st.runbook, status=st.status, trigger=st.trigger, started_by=st.started_by,
                   reason=st.reason, subject=st.subject, params=st.params, summary=st.summary, report=st.report,
                   started_at=_ts(st.started_at), finished_at=_ts(st.finished_at))
        async with self.db.session() as s:
            stmt = insert(RunbookRun).values(**run)
            await s.exec(stmt.on_conflict_do_update(index_elements=["id"], set_={
                k: stmt.excluded[k] for k in ("status", "subject", "summary", "report", "finished_at")}))
            for step in st.steps:
                row = dict(run_id=st.id, seq=step.seq, name=step.name, kind=step.kind, status=step.status,
                           findings=step.findings, proposal=step.proposal, decided_by=step.decided_by,
                           reason=step.reason, result=step.result, error=step.error, started_at=_ts(step.started_at),
                           finished_at=_ts(step.finished_at))
                stmt = insert(RunbookStep).values(**row)
                await s.exec(stmt.on_conflict_do_update(index_elements=["run_id", "seq"], set_={
                    k: stmt.excluded[k] for k in ("status", "findings", "proposal", "decided_by", "reason", "result",
                                                  "error", "finished_at")}))
            await s.commit()
        return SavedRunbookState(steps=len(st.steps))
