"""Updates of a thread's state: the LangGraph Platform API's ``POST /threads/{thread_id}/state``
(``threads.update_state``), run by ``ThreadStateWorkflow``.

An update writes one checkpoint through the graph of the thread's agent version, compiled exactly as
its runs compile it (:meth:`activities.graph_runner.GraphActivities.compiled`: from the version's
artifact, with the encrypted checkpointer), with LangGraph's ``aupdate_state``. It holds the thread's
row lock while it writes: ``start_run`` takes the same lock to claim a thread, so no run starts on the
thread in between, and a thread an unfinished run holds (running, or waiting for a human through
``/v1``) is refused as busy. It also holds the thread's step lock
(:meth:`~activities.graph_runner.GraphActivities.thread_step`), not waiting for it: a step still
running after its run ended (an attempt Temporal gave up on, whose worker has not noticed yet) makes
the thread busy too, so an update never changes a state a graph step is using. Nothing but
the checkpoint is written (``threads`` and ``runs`` stay :mod:`activities.runs`'s).
"""

from __future__ import annotations

from typing import Any

from langgraph.errors import InvalidUpdateError
from sqlmodel import select
from temporalio import activity

from activities.graph_runner import GraphActivities
from shipway.checkpoint_crypto import CHECKPOINTS_UNREADABLE, CheckpointDecryptionError
from shipway.db.models import Run, Thread
from workflows.statuses import RunStatus
from workflows.types import UPDATE_THREAD_STATE, StateUpdateRefusal, ThreadStateUpdate, ThreadStateUpdated

_UNFINISHED = (RunStatus.RUNNING, RunStatus.INTERRUPTED)
# the checkpoint metadata key marking the update that wrote it (a retried attempt finds its own write)
UPDATE_ID_KEY = "update_id"


def _checkpoint(config: dict[str, Any]) -> dict[str, Any]:
    """The root-graph checkpoint a RunnableConfig names: ``{"thread_id", "checkpoint_ns", "checkpoint_id"}``."""
    conf = config["configurable"]
    return {"thread_id": conf["thread_id"], "checkpoint_ns": conf.get("checkpoint_ns") or "",
            "checkpoint_id": conf["checkpoint_id"]}


def _refused(kind: StateUpdateRefusal, reason: str) -> ThreadStateUpdated:
    return ThreadStateUpdated(refused=kind, reason=reason)


class ThreadUpdateActivities:
    """The state-update activity; uses the worker's :class:`GraphActivities` (its compiled graphs,
    checkpointer and database)."""

    def __init__(self, graphs: GraphActivities) -> None:
        self.graphs = graphs

    @activity.defn(name=UPDATE_THREAD_STATE)
    async def update_thread_state(self, inp: ThreadStateUpdate) -> ThreadStateUpdated:
        """Write ``inp.values`` as node ``inp.as_node`` on the thread's latest checkpoint (or on
        ``inp.checkpoint_id``: a new checkpoint forked from it).

        Returns:
            the new checkpoint (its parent is the checkpoint it was written on); or refused, nothing
            written: ``not_found`` (no such thread of the tenant or of the agent, or no such
            checkpoint), ``busy`` (an unfinished run holds the thread, or a graph step still runs on
            it), ``invalid`` (LangGraph refused
            the update, e.g. an unknown node; the reason is its message), ``unreadable`` (a
            checkpoint under a key not configured here; the reason names it). A retried attempt whose
            earlier attempt wrote the checkpoint answers that checkpoint.

        Raises:
            ApplicationError (non-retryable): ``UnknownAgentVersion``, ``UnknownArtifact``,
                ``ArtifactIntegrity`` from compiling the version's graph.
        """
        compiled = await self.graphs.compiled(inp.agent_name, inp.version)
        graph = compiled.graph
        configurable: dict[str, Any] = {"thread_id": inp.thread_id, "checkpoint_ns": "", UPDATE_ID_KEY: inp.update_id}
        async with self.graphs.db.session() as s:
            # held until the session ends: a run cannot claim the thread while its state is written
            thread = (await s.exec(select(Thread).where(Thread.thread_id == inp.thread_id).with_for_update())).first()
            if thread is None or thread.tenant != inp.tenant or thread.agent_name != inp.agent_name:
                return _refused(StateUpdateRefusal.NOT_FOUND, f"thread {inp.thread_id!r} not found")
            if thread.active_run_id and (holder := await s.get(Run, thread.active_run_id)) is not None \
                    and holder.status in _UNFINISHED:
                return _refused(StateUpdateRefusal.BUSY, f"thread {inp.thread_id!r} is busy: run {holder.id} is {holder.status}")
            async with self.graphs.thread_step(inp.thread_id, wait=False) as held:
                if not held:
                    return _refused(StateUpdateRefusal.BUSY, f"thread {inp.thread_id!r} is busy: a graph step still runs on it")
                try:
                    return await self._write(graph, inp, configurable)
                except CheckpointDecryptionError as exc:
                    return _refused(StateUpdateRefusal.UNREADABLE, f"{CHECKPOINTS_UNREADABLE}: {exc}")

    @staticmethod
    async def _write(graph: Any, inp: ThreadStateUpdate, configurable: dict[str, Any]) -> ThreadStateUpdated:
        """The update written on the thread (whose row lock the caller holds), or its refusal.

        Raises:
            CheckpointDecryptionError: a checkpoint it reads is under a key not configured here.
        """
        latest = await graph.checkpointer.aget_tuple({"configurable": {"thread_id": inp.thread_id, "checkpoint_ns": ""}})
        if latest is not None and inp.update_id and latest.metadata.get(UPDATE_ID_KEY) == inp.update_id:
            activity.logger.info("thread %s: update %s was written by an earlier attempt", inp.thread_id, inp.update_id)
            return ThreadStateUpdated(checkpoint=_checkpoint(latest.config))
        if inp.checkpoint_id:
            configurable["checkpoint_id"] = inp.checkpoint_id
            # LangGraph would write on an unknown checkpoint as on a new thread
            if await graph.checkpointer.aget_tuple({"configurable": configurable}) is None:
                return _refused(StateUpdateRefusal.NOT_FOUND, f"checkpoint {inp.checkpoint_id!r} not found")
        try:
            written = await graph.aupdate_state({"configurable": configurable}, inp.values, as_node=inp.as_node)
        except InvalidUpdateError as exc:
            return _refused(StateUpdateRefusal.INVALID, str(exc))
        return ThreadStateUpdated(checkpoint=_checkpoint(written))
