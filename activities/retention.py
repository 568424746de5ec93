"""Checkpoint retention: the only module besides LangGraph that deletes from LangGraph's checkpoint
tables (``checkpoints``, ``checkpoint_writes``, ``checkpoint_blobs``; schema in
``langgraph/checkpoint/postgres/base.py``). Run summaries (``runs``, ``llm_usage``, ``guard_results``)
and ``threads`` are never written.

Which threads: those Shipway knows (a ``threads`` row) that are *finished* (no run holds them:
``active_run_id`` is NULL) and whose *last activity* is older than their agent's retention. Last
activity is ``threads.updated_at``, which a run sets when it starts and when it ends; the checkpoints'
own ``ts`` is not used, so a conversation still in use keeps its whole history. An agent's retention
is ``retention_days`` in the spec of its live version, else of its newest version, else the default
(``SHIPWAY_RETENTION_DAYS``); an operator's ``older_than_days`` overrides it.

What is kept: in each checkpoint namespace of such a thread, its latest checkpoint (the largest
``checkpoint_id``: LangGraph's ids are time-ordered UUID6 strings, and ``get_tuple`` loads the latest
the same way), that checkpoint's pending writes, and the blobs its ``channel_versions`` reference; so
``aget_state`` reads the same values afterwards. Every other checkpoint, write (no run is writing to
a finished thread, so a write of no kept checkpoint is garbage) and blob of the thread goes. As in
LangGraph's own ``prune(strategy="keep_latest")``: a subgraph call's namespace (a ``:`` in it) goes
whole once the root checkpoint it started from is saved and is not the kept one; a kept checkpoint
whose parent is deleted is left with no parent; threads using a ``DeltaChannel`` (rebuilt from older
checkpoints) are skipped. The checkpoints the installed LangGraph writes (``v`` 4) carry their own
pending sends, so no parent is kept for them. Only keys and the plaintext ``channel_versions`` and
``metadata`` are read: nothing is decrypted.

How: batches of threads in thread-id order, each one short transaction that takes its threads
``FOR UPDATE SKIP LOCKED`` (a run starting on a thread waits for the batch, and a thread a run is
claiming is left for the next pass) under ``lock_timeout`` and ``statement_timeout``; a dry run runs the
same statements and rolls them back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from shipway.db.engine import Database
from shipway.settings import Settings
from workflows.types import PRUNE_CHECKPOINTS, AgentRetention, PruneBatchInput, PruneBatchResult, RetentionReport

# A batch never waits long on a lock or a slow statement: it fails and the activity retries it later.
LOCK_TIMEOUT = "2s"
STATEMENT_TIMEOUT = "60s"

# Finished threads past their agent's retention with something to delete (a checkpoint that is not
# its namespace's latest), no DeltaChannel (LangGraph's markers in checkpoint metadata), in id order.
_PICK_THREADS = text("""
WITH retention AS (
    SELECT DISTINCT ON (v.agent_name) v.agent_name, (v.spec ->> 'retention_days')::int AS days
    FROM agent_versions v JOIN agents a ON a.name = v.agent_name
    ORDER BY v.agent_name, (v.version = a.live_version) IS TRUE DESC, v.version DESC
)
SELECT t.thread_id, t.agent_name, d.days
FROM threads t LEFT JOIN retention r ON r.agent_name = t.agent_name
CROSS JOIN LATERAL (SELECT coalesce(CAST(:older_than_days AS int), r.days, :default_days) AS days) d
WHERE t.thread_id > :after AND t.active_run_id IS NULL
  AND (CAST(:agent_name AS text) IS NULL OR t.agent_name = CAST(:agent_name AS text))
  AND t.updated_at < CAST(:as_of AS timestamptz) - make_interval(days => d.days)
  AND EXISTS (
      SELECT 1 FROM checkpoints old WHERE old.thread_id = t.thread_id AND EXISTS (
          SELECT 1 FROM checkpoints newer
          WHERE newer.thread_id = old.thread_id AND newer.checkpoint_ns = old.checkpoint_ns
            AND newer.checkpoint_id > old.checkpoint_id))
  AND NOT EXISTS (
      SELECT 1 FROM checkpoints delta WHERE delta.thread_id = t.thread_id
        AND (delta.metadata ? 'counters_since_delta_snapshot' OR delta.metadata ? 'delta_writes_versioned'))
ORDER BY t.thread_id
LIMIT :batch_size
FOR UPDATE OF t SKIP LOCKED
""")

# Each namespace's latest checkpoint, and whether it is a stale subgraph call (see the module doc).
_HEADS = text("""
WITH heads AS (
    SELECT DISTINCT ON (thread_id, checkpoint_ns) thread_id, checkpoint_ns, checkpoint_id,
           metadata -> 'parents' ->> '' AS root
    FROM checkpoints WHERE thread_id = ANY(CAST(:ids AS text[]))
    ORDER BY thread_id, checkpoint_ns, checkpoint_id DESC
)
SELECT h.thread_id, h.checkpoint_ns, h.checkpoint_id,
       strpos(h.checkpoint_ns, ':') > 0 AND h.root IS DISTINCT FROM r.checkpoint_id AND EXISTS (
           SELECT 1 FROM checkpoints s WHERE s.thread_id = h.thread_id AND s.checkpoint_ns = '' AND s.checkpoint_id = h.root
       ) AS stale_call
FROM heads h LEFT JOIN heads r ON r.thread_id = h.thread_id AND r.checkpoint_ns = ''
""")

_KEPT = ("unnest(CAST(:kept_threads AS text[]), CAST(:kept_ns AS text[]), CAST(:kept_ids AS text[]))"
         " AS k(thread_id, checkpoint_ns, checkpoint_id)")

_DELETE_WRITES = text(f"""
WITH deleted AS (
    DELETE FROM checkpoint_writes w WHERE w.thread_id = ANY(CAST(:ids AS text[])) AND NOT EXISTS (
        SELECT 1 FROM {_KEPT}
        WHERE k.thread_id = w.thread_id AND k.checkpoint_ns = w.checkpoint_ns AND k.checkpoint_id = w.checkpoint_id)
    RETURNING w.thread_id)
SELECT thread_id, count(*) FROM deleted GROUP BY thread_id
""")

_DELETE_CHECKPOINTS = text(f"""
WITH deleted AS (
    DELETE FROM checkpoints c WHERE c.thread_id = ANY(CAST(:ids AS text[])) AND NOT EXISTS (
        SELECT 1 FROM {_KEPT}
        WHERE k.thread_id = c.thread_id AND k.checkpoint_ns = c.checkpoint_ns AND k.checkpoint_id = c.checkpoint_id)
    RETURNING c.thread_id)
SELECT thread_id, count(*) FROM deleted GROUP BY thread_id
""")

# A kept checkpoint pointing at a deleted parent would offer a `parent_config` that loads nothing.
_DETACH_PARENTS = text(f"""
UPDATE checkpoints c SET parent_checkpoint_id = NULL FROM {_KEPT}
WHERE c.thread_id = k.thread_id AND c.checkpoint_ns = k.checkpoint_ns AND c.checkpoint_id = k.checkpoint_id
  AND c.parent_checkpoint_id IS NOT NULL AND NOT EXISTS (
      SELECT 1 FROM checkpoints p
      WHERE p.thread_id = c.thread_id AND p.checkpoint_ns = c.checkpoint_ns AND p.checkpoint_id = c.parent_checkpoint_id)
""")

# After the deletes, the threads' remaining checkpoints are the kept ones: a blob none references goes.
_DELETE_BLOBS = text("""
WITH deleted AS (
    DELETE FROM checkpoint_blobs b WHERE b.thread_id = ANY(CAST(:ids AS text[])) AND NOT EXISTS (
        SELECT 1 FROM checkpoints c
        WHERE c.thread_id = b.thread_id AND c.checkpoint_ns = b.checkpoint_ns
          AND c.checkpoint -> 'channel_versions' ->> b.channel = b.version)
    RETURNING b.thread_id)
SELECT thread_id, count(*) FROM deleted GROUP BY thread_id
""")


def _beat(stage: str) -> None:
    # the same code runs outside an activity for the CLI's dry run
    if activity.in_activity():
        activity.heartbeat(stage)


class RetentionActivities:
    """The checkpoint-retention activity and its database pool (the workers' ``shipway_platform``
    role, which may delete from the checkpoint tables: migration 0008).

    Args:
        db: the database the checkpoint tables and ``threads`` live in.
        default_days: retention of agents whose spec sets none, days (``SHIPWAY_RETENTION_DAYS``).
        batch_size: threads per batch when the input names none (``SHIPWAY_RETENTION_BATCH_SIZE``).
    """

    def __init__(self, db: Database, default_days: int = 30, batch_size: int = 500) -> None:
        self.db, self.default_days, self.batch_size = db, default_days, batch_size

    @classmethod
    def from_settings(cls, db: Database, settings: Settings) -> RetentionActivities:
        """The activity with the retention settings' default days and batch size."""
        return cls(db, settings.retention_days, settings.retention_batch_size)

    @activity.defn(name=PRUNE_CHECKPOINTS)
    async def prune_checkpoints(self, inp: PruneBatchInput) -> PruneBatchResult:
        """Prune one batch of finished threads past their retention, in one transaction (rolled back
        when ``inp.dry_run``); heartbeats between its statements.

        Returns:
            Counts by agent of threads pruned and rows deleted (``checkpoints``, ``checkpoint_writes``,
            ``checkpoint_blobs``), and the last thread id taken (None: none was left after the cursor).

        Raises:
            ValueError: ``inp.as_of`` is not ISO 8601.
            sqlalchemy.exc.OperationalError: a lock or statement timeout (the batch rolled back; retry).
        """
        as_of = datetime.fromisoformat(inp.as_of)
        as_of = as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)
        async with self.db.session() as s:
            await s.exec(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
            await s.exec(text(f"SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}'"))
            threads = (await s.exec(_PICK_THREADS.bindparams(
                after=inp.after_thread_id, agent_name=inp.agent_name, older_than_days=inp.older_than_days,
                default_days=self.default_days, as_of=as_of, batch_size=inp.batch_size or self.batch_size))).all()
            if not threads:
                return PruneBatchResult(agents=[], last_thread_id=None)
            _beat("picked")
            agents = await self._prune(s, [t.thread_id for t in threads], {t.thread_id: t.agent_name for t in threads},
                                       {t.agent_name: t.days for t in threads}, as_of)
            await (s.rollback() if inp.dry_run else s.commit())
        return PruneBatchResult(agents=agents, last_thread_id=threads[-1].thread_id)

    async def _prune(self, s: AsyncSession, ids: list[str], agent_of: dict[str, str], days_of: dict[str, int],
                     as_of: datetime) -> list[AgentRetention]:
        heads = (await s.exec(_HEADS.bindparams(ids=ids))).all()
        kept = [h for h in heads if not h.stale_call]
        keys = {"ids": ids, "kept_threads": [h.thread_id for h in kept], "kept_ns": [h.checkpoint_ns for h in kept],
                "kept_ids": [h.checkpoint_id for h in kept]}
        counts: dict[str, AgentRetention] = {
            name: AgentRetention(name, days, (as_of - timedelta(days=days)).astimezone(UTC).isoformat())
            for name, days in days_of.items()}
        for thread_id in ids:
            counts[agent_of[thread_id]].threads += 1
        for field_name, statement in (("writes", _DELETE_WRITES), ("checkpoints", _DELETE_CHECKPOINTS)):
            await self._count(s, statement.bindparams(**keys), field_name, counts, agent_of)
        await s.exec(_DETACH_PARENTS.bindparams(kept_threads=keys["kept_threads"], kept_ns=keys["kept_ns"],
                                                kept_ids=keys["kept_ids"]))
        await self._count(s, _DELETE_BLOBS.bindparams(ids=ids), "blobs", counts, agent_of)
        return sorted(counts.values(), key=lambda a: a.agent_name)

    @staticmethod
    async def _count(s: AsyncSession, statement, field_name: str, counts: dict[str, AgentRetention],
                     agent_of: dict[str, str]) -> None:
        for thread_id, n in (await s.exec(statement)).all():
            agent = counts[agent_of[thread_id]]
            setattr(agent, field_name, getattr(agent, field_name) + n)
        _beat(field_name)

    async def dry_run(self, *, agent_name: str | None = None, older_than_days: int | None = None,
                      batch_size: int | None = None, as_of: datetime | None = None) -> RetentionReport:
        """What a retention pass would delete now (or as of ``as_of``), by agent: every batch of
        :meth:`prune_checkpoints` with ``dry_run``, following the cursor; deletes nothing."""
        as_of_iso = (as_of or datetime.now(UTC)).isoformat()
        report, cursor = RetentionReport(), ""
        while True:
            batch = await self.prune_checkpoints(PruneBatchInput(
                as_of=as_of_iso, after_thread_id=cursor, agent_name=agent_name, older_than_days=older_than_days,
                batch_size=batch_size, dry_run=True))
            if batch.last_thread_id is None:
                return report
            report.add(batch)
            cursor = batch.last_thread_id
