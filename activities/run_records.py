"""Writes of an agent run's outcome to the ``runs`` row."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from shipway.db.engine import async_engine
from shipway.db.models import Run, utcnow
from workflows.types import RunRecord


@activity.defn(name="record_run")
async def record_run(rec: RunRecord) -> None:
    """Update the run's status, output/interrupt, timings (ms), tokens and cost (USD).

    Raises:
        LookupError: no such run row (the gateway creates it before starting the workflow).
    """
    async with AsyncSession(async_engine(), expire_on_commit=False) as session:
        run = await session.get(Run, rec.run_id)
        if run is None:
            raise LookupError(f"run {rec.run_id} is not recorded")
        run.status, run.output, run.interrupt, run.error = rec.status, rec.output, rec.interrupt, rec.error
        run.wait_ms, run.tokens_in, run.tokens_out, run.cost_usd = rec.wait_ms, rec.tokens_in, rec.tokens_out, rec.cost_usd
        if rec.status in ("succeeded", "failed"):
            run.finished_at = utcnow()
            run.latency_ms = rec.latency_ms
        session.add(run)
        await session.commit()
