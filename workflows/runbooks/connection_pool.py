"""Connection-pool exhaustion: who holds the database's connections, and the idle-in-transaction
backends that hold them for nothing. Params: ``idle_in_transaction_min_s`` (default 60),
``long_query_min_s`` (default 30). Remediation: terminate those backends (after ``confirm``)."""

from __future__ import annotations

from temporalio import workflow

from workflows.diagnostics_types import (
    INSPECT_CONNECTIONS,
    TERMINATE_BACKENDS,
    ConnectionsCheck,
    ConnectionsReport,
    TerminateBackends,
    TerminatedBackends,
)
from workflows.runbook_types import RUNBOOK_WORKFLOWS, RunbookInput, RunbookState
from workflows.runbooks.base import RunbookBase
from workflows.statuses import Runbook


@workflow.defn(name=RUNBOOK_WORKFLOWS[Runbook.CONNECTION_POOL])
class ConnectionPoolRunbook(RunbookBase):
    """Find idle-in-transaction and long-running backends; terminate the idle ones once confirmed."""

    RUNBOOK = Runbook.CONNECTION_POOL

    @workflow.run
    async def run(self, inp: RunbookInput) -> RunbookState:
        await self.begin(inp)
        check = ConnectionsCheck(idle_in_transaction_min_s=float(inp.params.get("idle_in_transaction_min_s", 60.0)),
                                 long_query_min_s=float(inp.params.get("long_query_min_s", 30.0)))
        report = await self.diagnose("connections", INSPECT_CONNECTIONS, check, ConnectionsReport)
        if report is None:
            return await self.finish("could not read pg_stat_activity")
        idle = report.idle_in_transaction
        if not idle:
            await self.not_needed("terminate idle-in-transaction backends", "no backend idle in a transaction")
            return await self.finish(f"{report.total} of {report.max_connections} connections in use; none idle in a transaction")
        pids = [b.pid for b in idle]
        done = await self.remediate(
            "terminate idle-in-transaction backends",
            f"pg_terminate_backend on {len(pids)} backend(s) idle in a transaction for over "
            f"{check.idle_in_transaction_min_s:.0f} s: pids {pids}",
            TERMINATE_BACKENDS, TerminateBackends(pids=pids, min_xact_age_s=check.idle_in_transaction_min_s),
            TerminatedBackends)
        after = await self.diagnose("connections after", INSPECT_CONNECTIONS, check, ConnectionsReport)
        summary = (f"{report.total} of {report.max_connections} connections in use, {len(pids)} idle in a transaction; "
                   + (f"terminated {len(done.terminated)}" if done else "none terminated")
                   + (f"; {after.total} in use after" if after else ""))
        return await self.finish(summary)
