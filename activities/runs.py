"""Agent runs and their conversation threads (the only writer of ``runs`` and ``threads``; a
mapping job's ``code_mappings`` are written through :mod:`activities.code_mappings` in the
transaction that ends it).

A thread belongs to the agent and tenant of its first run, and at most one unfinished run (running,
or waiting for a human) holds it at a time: a run on someone else's thread, or on a thread whose
review is pending, is refused instead of overwriting that thread's checkpoints.
"""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import select, update
from temporalio import activity

from activities import code_mappings
from shipway.db.engine import Database
from shipway.db.models import AgentVersion, Run, Thread, utcnow
from shipway.metrics import observe_run
from workflows.statuses import RunStatus
from workflows.types import (CREATE_THREAD, RECORD_RUN, START_RUN, RunRecord, RunRecordResult, RunStart, RunStartResult,
                             ThreadCreate, ThreadCreateResult)

_UNFINISHED = (RunStatus.RUNNING, RunStatus.INTERRUPTED)


class RunActivities:
    """Writes of the run workflow, run as local activities (one short transaction each)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @activity.defn(name=START_RUN)
    async def start_run(self, inp: RunStart) -> RunStartResult:
        """Claim the run's thread and insert its ``runs`` row (with the version's artifact SHA-256), in one transaction.

        Returns:
            ``accepted=True``; or ``False`` with the reason when the thread belongs to another agent
            or tenant, or another unfinished run holds it (nothing is written then). A retried
            attempt that finds its own row is accepted again.
        """
        now = utcnow()
        async with self.db.session() as s:
            if await s.get(Run, inp.run_id) is not None:
                return RunStartResult(accepted=True)
            await s.exec(insert(Thread).values(thread_id=inp.thread_id, agent_name=inp.agent_name, tenant=inp.tenant,
                                               last_run_id=inp.run_id, created_by=inp.started_by, created_at=now,
                                               updated_at=now).on_conflict_do_nothing())
            thread = (await s.exec(select(Thread).where(Thread.thread_id == inp.thread_id).with_for_update())).one()
            if thread.agent_name not in (None, inp.agent_name) or thread.tenant != inp.tenant:
                return RunStartResult(accepted=False, reason=f"thread {inp.thread_id!r} belongs to another agent or tenant")
            if thread.active_run_id and thread.active_run_id != inp.run_id:
                holder = await s.get(Run, thread.active_run_id)
                if holder is not None and holder.status in _UNFINISHED:
                    return RunStartResult(accepted=False, busy=True,
                                          reason=f"thread {inp.thread_id!r} is busy: run {holder.id} is {holder.status}")
            # a thread made before its first run (POST /threads) belongs to this run's agent from now on
            thread.agent_name = inp.agent_name
            thread.active_run_id, thread.last_run_id, thread.updated_at = inp.run_id, inp.run_id, now
            s.add(thread)
            artifact = (await s.exec(select(AgentVersion.artifact_sha256).where(
                AgentVersion.agent_name == inp.agent_name, AgentVersion.version == inp.version))).first()
            s.add(Run(id=inp.run_id, agent_name=inp.agent_name, version=inp.version, thread_id=inp.thread_id,
                      tenant=inp.tenant, input=inp.input, workflow_id=inp.workflow_id, started_at=now, artifact_sha256=artifact,
                      started_by=inp.started_by, meta=inp.metadata))
            await s.commit()
        return RunStartResult(accepted=True)

    @activity.defn(name=CREATE_THREAD)
    async def create_thread(self, inp: ThreadCreate) -> ThreadCreateResult:
        """Make a thread with no agent and no run yet (its first run binds it to its agent).

        Returns:
            ``created=True``; with ``if_exists="do_nothing"`` an existing thread of the same tenant
            is answered as it is (``created=False``, no reason); otherwise ``created=False`` with the
            reason (the id is taken, or another tenant's).
        """
        now = utcnow()
        async with self.db.session() as s:
            done = await s.exec(insert(Thread).values({"thread_id": inp.thread_id, "tenant": inp.tenant,
                                                       "metadata": inp.metadata, "created_by": inp.created_by,
                                                       "created_at": now, "updated_at": now})
                                .on_conflict_do_nothing().returning(Thread.thread_id))
            created = done.first() is not None
            await s.commit()
            if created:
                return ThreadCreateResult(created=True)
            existing = await s.get(Thread, inp.thread_id)
        if existing is not None and existing.tenant == inp.tenant and inp.if_exists == "do_nothing":
            return ThreadCreateResult(created=False)
        return ThreadCreateResult(created=False, reason=f"thread {inp.thread_id!r} already exists")

    @activity.defn(name=RECORD_RUN)
    async def record_run(self, rec: RunRecord) -> RunRecordResult:
        """Update the run's status, output or pending interrupt, timings (ms), tokens and cost (USD);
        a finished run releases its thread.

        Raises:
            LookupError: no such run row (``start_run`` writes it first).
        """
        async with self.db.session() as s:
            run = await s.get(Run, rec.run_id)
            if run is None:
                raise LookupError(f"run {rec.run_id} is not recorded")
            ended = run.status in _UNFINISHED and rec.status not in _UNFINISHED  # not on a retried attempt's second write
            run.status, run.output, run.interrupt, run.error = rec.status, rec.output, rec.interrupt, rec.error
            run.wait_ms, run.tokens_in, run.tokens_out, run.cost_usd = rec.wait_ms, rec.tokens_in, rec.tokens_out, rec.cost_usd
            if rec.status not in _UNFINISHED or rec.release_thread:
                run.finished_at = utcnow()
                run.latency_ms = rec.latency_ms
                await s.exec(update(Thread).where(Thread.thread_id == run.thread_id, Thread.active_run_id == run.id)
                             .values(active_run_id=None, updated_at=utcnow()))
            if rec.status == RunStatus.SUCCEEDED and rec.output and await code_mappings.is_mapping_job(s, run):
                await code_mappings.replace(s, run, rec.output)
            s.add(run)
            await s.commit()
        if ended:
            observe_run(run.agent_name, run.version, rec.status, rec.latency_ms)
        return RunRecordResult(status=rec.status)
