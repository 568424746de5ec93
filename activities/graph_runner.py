"""Execute an agent version's LangGraph graph inside an activity, durably.

The graph comes from the version's artifact only (fetched by its SHA-256, verified, unpacked once
per worker, imported in isolation: :mod:`activities.artifact_loader`), never from code the worker
happens to have installed. It is compiled with ``AsyncPostgresSaver`` (one ``thread_id`` per conversation; checkpoints
encrypted at rest, :mod:`shipway.checkpoint_crypto`) and
streamed node by node with an activity heartbeat after each node, checkpointed as the version's
``durability`` says (:mod:`shipway.durability`: after every node, or once when the step ends).
A step run again (a retried attempt after the worker died or the heartbeat timed out, a local
activity re-executed after a workflow task timeout, the fallback from a local to a regular
activity) recognises its own run's checkpoints by the ``run_id`` LangGraph records in their
metadata: it continues from the last one instead of starting again (no checkpointed node runs a
second time), and a step whose graph already ended answers from that checkpoint without running
anything. Attempts of one thread's steps never overlap: each holds the thread's step lock (a
PostgreSQL session advisory lock, :meth:`GraphActivities.thread_step`) from before it reads the
thread's checkpoint until its last checkpoint write is done, so a retry that Temporal starts while a
superseded attempt still runs (a heartbeat timeout on a busy worker) waits for it and continues from
its checkpoints instead of running the same step beside it. This module is the only writer of
``llm_usage`` (and, through LangGraph, of the checkpoint tables).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from cachetools import LRUCache, TTLCache
from jsonschema import Draft202012Validator
from langgraph.checkpoint.serde.encrypted import EncryptedSerializer
from langgraph.store.postgres import AsyncPostgresStore
from langgraph.types import Command
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from pydantic import ValidationError
from sqlalchemy import func
from sqlmodel import select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.artifact_format import IntegrityError
from activities.artifact_loader import ArtifactCache
from activities.artifact_store import ArtifactNotFound
from activities.llm_usage import UsageCollector
from activities.run_events import RunEventWriter, chunk_events, graph_stream_modes, to_jsonable
from activities.tracing import StepTrace, Tracing
from shipway import queries
from shipway.checkpoint_crypto import EncryptedAsyncPostgresSaver, encrypted_serde
from shipway.db.engine import Database, role_options
from shipway.db.models import LlmUsage
from shipway.durability import PER_NODE, spec_durability
from shipway.graph_store import close_graph_store, open_graph_store
from shipway.metrics import observe_llm_call, observe_queue_wait
from shipway.pricing import DEFAULT_PRICES, price_usd
from shipway.settings import get_settings
from workflows.statuses import GraphStepStatus
from workflows.types import RUN_GRAPH, RUN_USAGE_DETAIL, GraphStepInput, GraphStepResult

# Compiled graphs kept per worker: a canary and its stable version of every agent fit many times over.
MAX_COMPILED_GRAPHS = 64
PRICE_CACHE_TTL_S = 60.0
# a caller's configurable may not steer which checkpoint a step runs from
_RESERVED_CONFIGURABLE = ("checkpoint_id", "checkpoint_ns", "checkpoint_map")
# The thread's step lock: a session advisory lock on a 64-bit hash of the thread id, seeded apart from
# run_events' transaction locks on hashtextextended(run_id, 0) (a run id may be its own thread id).
_STEP_LOCK_SEED = 0x5354_4550  # "STEP"
_TRY_STEP_LOCK = "SELECT pg_try_advisory_lock(hashtextextended(%s, %s)) AS locked"
_STEP_UNLOCK = "SELECT pg_advisory_unlock(hashtextextended(%s, %s)) AS unlocked"
# The lock lives as long as its session. A killed worker's socket closes and the server ends the session
# at once; a vanished host is noticed by TCP keepalives (~25 s); no idle timeout may end it mid-step.
_STEP_LOCK_SESSION = "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3 -c idle_session_timeout=0"
STEP_LOCK_POOL_SIZE = 64  # step locks held at once per worker (one connection each); more steps wait, heartbeating
STEP_LOCK_WAIT_S = 600.0  # longest wait for a lock connection: the graph activity's start-to-close timeout


@dataclass
class CompiledVersion:
    """One agent version ready to run, from its artifact: the compiled graph, its model
    (``provider:model`` or None), and how its input is checked and its output built."""

    artifact_sha256: str
    graph: Any
    model: str | None
    input_model: Any = None  # a pydantic model class, when the artifact names one
    input_validator: Draft202012Validator | None = None  # else its input JSON Schema
    output_fn: Callable[[dict], dict] | None = None  # else the final state (its output schema's keys)
    output_keys: tuple[str, ...] = ()
    durability: str = PER_NODE  # LangGraph's durability mode for this version (shipway.durability)
    declared_durability: str = "auto"  # the spec's; an ``auto`` version moves to per node once it calls an LLM

    def validated_input(self, raw: dict) -> dict:
        """``raw`` as the graph takes it.

        Raises:
            ApplicationError (non-retryable, ``InvalidInput``): naming each bad field.
        """
        if self.input_model is not None:
            try:
                return self.input_model.model_validate(raw).model_dump(mode="json")
            except ValidationError as exc:
                raise ApplicationError(f"invalid input: {_fields(exc)}", type="InvalidInput", non_retryable=True) from exc
        if self.input_validator is not None:
            errors = sorted(self.input_validator.iter_errors(raw), key=lambda e: list(e.absolute_path))
            if errors:
                where = "; ".join(f"{'.'.join(map(str, e.absolute_path)) or 'input'}: {e.message}" for e in errors)
                raise ApplicationError(f"invalid input: {where}", type="InvalidInput", non_retryable=True)
        return raw

    def output(self, values: dict) -> dict:
        """The run's output from the final state: the artifact's output function, else the state's
        output keys made JSON-safe."""
        if self.output_fn is not None:
            return self.output_fn(values)
        picked = {k: v for k, v in values.items() if not self.output_keys or k in self.output_keys}
        return json.loads(json.dumps(picked, default=str))


async def _keep_heartbeating(details) -> None:
    """Heartbeat during long nodes too (an LLM call may outlast the heartbeat timeout), from the
    start: a step whose first node waits for a thread under load is alive, and a retry started
    beside it would run the same nodes at once (a retry finds what was checkpointed by itself)."""
    timeout = activity.info().heartbeat_timeout
    period = max(timeout.total_seconds() / 3, 0.1) if timeout else 10.0
    while True:
        await asyncio.sleep(period)
        activity.heartbeat(details())


async def _settle_checkpoint_writes(exc: BaseException) -> None:
    """Wait for the checkpoint writes of a cancelled graph stream. LangGraph awaits its background
    writes when a stream ends; if that wait is itself cancelled it hands the exiting task on in the
    ``CancelledError``'s args, and the step lock must not be released while it still writes."""
    for pending in exc.args:
        if isinstance(pending, asyncio.Future) and not pending.done():
            await asyncio.wait([pending])


def _fields(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


@dataclass(frozen=True)
class _Budget:
    """What one attempt of a graph step may spend on LLM calls (USD; at most 0: nothing) and the
    prices it counts with ({model: (input, output USD per million tokens)})."""

    left_usd: float
    prices: dict[str, tuple[float, float]]

    def reached(self, usage: UsageCollector) -> bool:
        """Whether the calls recorded so far cost ``left_usd`` or more (a model without a price counts 0)."""
        return sum(_cost(c.model, c.tokens_in, c.tokens_out, self.prices) for c in usage.snapshot()) >= self.left_usd


def _cost(model: str, tokens_in: int, tokens_out: int, prices: dict[str, tuple[float, float]]) -> float:
    try:
        return price_usd(model, tokens_in, tokens_out, prices)
    except KeyError:
        return 0.0  # _record_usage warns about the missing price


def _partial_output(c: CompiledVersion, values: dict) -> dict:
    """The output of a graph stopped part-way: the agent's own output function where it copes with a
    partial state, else the JSON-safe state values."""
    try:
        return c.output(values)
    except Exception:  # agent code, written for a finished state: any error means it does not cope
        activity.logger.info("output of %s does not build from a partial state; returning the state values",
                             c.artifact_sha256[:12])
        return json.loads(json.dumps(values, default=str))


def _failure(exc: Exception, run_usage: tuple[int, int, float]) -> ApplicationError:
    """``exc`` of a failed graph step as the workflow sees it, carrying the run's LLM totals in its
    details: a failed validation is ``InvalidInput`` (non-retryable); an ApplicationError keeps its
    type, retry behaviour and details; any other error its class name (retried)."""
    detail = {RUN_USAGE_DETAIL: {"tokens_in": run_usage[0], "tokens_out": run_usage[1], "cost_usd": run_usage[2]}}
    if isinstance(exc, ApplicationError):
        return ApplicationError(exc.message, detail, *exc.details, type=exc.type, non_retryable=exc.non_retryable,
                                next_retry_delay=exc.next_retry_delay, category=exc.category)
    if isinstance(exc, (ValueError, ValidationError)):
        return ApplicationError(f"{type(exc).__name__}: {exc}", detail, type="InvalidInput", non_retryable=True)
    return ApplicationError(str(exc), detail, type=type(exc).__name__)


class _Streamed:
    """One graph step's stream to ``run_events``: asks LangGraph for the run's Platform modes plus
    ``updates`` (which the step reads its nodes and interrupts from), stores each chunk of a mode the
    caller asked for as the Platform names it, and hands the root graph's updates back to the step."""

    def __init__(self, inp: GraphStepInput, events: RunEventWriter | None) -> None:
        if events is None:
            raise ApplicationError("this worker has no run event writer; it cannot stream runs", type="NoEventWriter")
        try:
            self.wanted = graph_stream_modes(inp.stream_modes or ["values"])
        except ValueError as exc:
            raise ApplicationError(str(exc), type="InvalidInput", non_retryable=True) from exc
        self.graph_modes = self.wanted + ([] if "updates" in self.wanted else ["updates"])
        self.inp, self.events = inp, events

    async def take(self, item: tuple) -> dict | None:
        """Store ``item`` if its mode was asked for; the root graph's ``updates`` chunk, else None."""
        namespace, mode, chunk = item if self.inp.stream_subgraphs else ((), *item)
        if mode in self.wanted:
            await self.events.append(self.inp.run_id, self.inp.tenant, chunk_events(item, self.inp.stream_subgraphs))
        return chunk if mode == "updates" and not namespace else None


class GraphActivities:
    """The graph activity and what it owns: the checkpointer's connection pool, the compiled graphs
    of the versions this worker has run (LRU, at most :data:`MAX_COMPILED_GRAPHS`), the unpacked
    artifacts they come from, and the model price table (cached :data:`PRICE_CACHE_TTL_S` seconds).
    Call :meth:`close` on shutdown.

    Args:
        db: the worker's database (catalog reads, ``llm_usage`` writes).
        artifacts: the worker's artifact cache (verified, unpacked, isolated imports).
        default_model: ``provider:model`` for versions whose spec names none (``SHIPWAY_LLM``), or None.
        pool_size: most connections the checkpointer may hold.
        serde: how checkpoints are serialized and encrypted at rest; default
            :func:`shipway.checkpoint_crypto.encrypted_serde` of the current settings.
        tracing: LangSmith tracing of each graph step (:class:`activities.tracing.Tracing`); default off.
        events: the writer of ``run_events``, for steps that stream (``stream_modes``); required by them.
        step_lock_pool_size: most threads' step locks held at once (:meth:`thread_step`, one connection each).

    Raises:
        shipway.checkpoint_keys.CheckpointKeyError: the configured checkpoint keys do not parse.
    """

    def __init__(self, db: Database, artifacts: ArtifactCache, default_model: str | None = None, pool_size: int = 30,
                 serde: EncryptedSerializer | None = None, tracing: Tracing | None = None,
                 events: RunEventWriter | None = None, step_lock_pool_size: int = STEP_LOCK_POOL_SIZE) -> None:
        self.db = db
        self.events = events  # where streamed runs' chunks go (LangGraph Platform API streams); None: not streamed
        self.tracing = tracing or Tracing()  # LangSmith tracing of graph steps; off by default
        self._serde = serde or encrypted_serde(get_settings())
        self.artifacts = artifacts
        self.default_model = default_model
        self._pool = AsyncConnectionPool(db.url, min_size=2, max_size=pool_size, open=False,
                                         kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row,
                                                 **role_options(db.role)})
        self._opened = False
        self._store: AsyncPostgresStore | None = None  # the graphs' LangGraph store (shipway.graph_store)
        # step locks (thread_step) on connections of their own: a step holds one while its graph takes
        # checkpointer connections, so sharing the checkpointer's pool could leave none for the graphs
        options = " ".join(filter(None, (role_options(db.role).get("options"), _STEP_LOCK_SESSION)))
        self._step_locks = AsyncConnectionPool(db.url, min_size=1, max_size=step_lock_pool_size, open=False,
                                               timeout=STEP_LOCK_WAIT_S, max_idle=60.0,
                                               kwargs={"autocommit": True, "prepare_threshold": None, "row_factory": dict_row,
                                                       "options": options})
        self._step_locks_opened = False
        self._graphs: LRUCache = LRUCache(maxsize=MAX_COMPILED_GRAPHS)
        self._prices: TTLCache = TTLCache(maxsize=1, ttl=PRICE_CACHE_TTL_S)
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        """Stop the graph store's TTL sweeper, close the checkpointer's and the step locks' connection pools
        and the LangSmith client (after a bounded flush)."""
        await self.tracing.close()
        if self._store is not None:
            await close_graph_store(self._store)
        if self._opened:
            await self._pool.close()
        if self._step_locks_opened:
            await self._step_locks.close()

    @asynccontextmanager
    async def thread_step(self, thread_id: str, wait: bool = True) -> AsyncIterator[bool]:
        """Hold ``thread_id``'s step lock for the block: a PostgreSQL session advisory lock, so one
        execution at a time (across workers) reads the thread's checkpoint, runs nodes or writes
        checkpoints. Another holder (an earlier attempt Temporal gave up on that still runs, a local
        attempt timed out into the regular activity) is waited for, polling; the caller keeps
        heartbeating meanwhile. With ``wait=False`` it is not waited for: the block runs at once
        without the lock. A holder whose worker died holds nothing: its session ended with it.
        A lock whose release fails or is interrupted ends its session instead of going back to the pool.

        Yields:
            True when the block holds the lock; False only with ``wait=False`` and another holder.
        """
        if not self._step_locks_opened:  # on the event loop that runs the activities
            await self._step_locks.open()
            self._step_locks_opened = True
        key = (thread_id, _STEP_LOCK_SEED)
        async with self._step_locks.connection() as conn:
            released = False
            try:
                pause, waited = 0.02, 0.0
                while not (await (await conn.execute(_TRY_STEP_LOCK, key)).fetchone())["locked"]:
                    if not wait:
                        released = True  # nothing to release: the session goes back to the pool
                        yield False
                        return
                    if waited == 0.0:
                        activity.logger.info("thread %s: another execution of its step still runs; waiting for it", thread_id)
                    await asyncio.sleep(pause)
                    waited += pause
                    pause = min(pause * 2, 0.5)
                if waited:
                    activity.logger.info("thread %s: step lock taken after %.1f s", thread_id, waited)
                try:
                    yield True
                finally:
                    await conn.execute(_STEP_UNLOCK, key)
                    released = True
            finally:
                if not released:
                    await conn.close()  # ends the session and any lock it holds; the pool drops a closed connection

    async def _checkpointer(self) -> EncryptedAsyncPostgresSaver:
        # opened on first use: the pool must live on the event loop that runs the activities
        if not self._opened:
            await self._pool.open()
            self._opened = True
        return EncryptedAsyncPostgresSaver(self._pool, serde=self._serde)

    async def compiled(self, agent_name: str, version: int) -> CompiledVersion:
        """The compiled graph of one agent version, from its artifact, built once per worker.

        Raises:
            ApplicationError (non-retryable): ``UnknownAgentVersion`` (not in the catalog),
                ``UnknownArtifact`` (no artifact, or not in the store), ``ArtifactIntegrity`` (the stored
                bytes or unpacked files do not match the approved SHA-256: nothing of it is run).
        """
        key = (agent_name, version)
        if (hit := self._graphs.get(key)) is not None:
            return hit
        async with self._lock:
            if key not in self._graphs:
                self._graphs[key] = await self._compile(agent_name, version)
            return self._graphs[key]

    async def _compile(self, agent_name: str, version: int) -> CompiledVersion:
        row = await self.db.read(queries.agent_version, agent_name, version)
        if row is None:
            raise ApplicationError(f"agent {agent_name} v{version} is not in the catalog", type="UnknownAgentVersion",
                                   non_retryable=True)
        if not row.artifact_sha256:
            raise ApplicationError(f"agent {agent_name} v{version} has no artifact", type="UnknownArtifact", non_retryable=True)
        try:
            loaded = await asyncio.to_thread(self.artifacts.load, row.artifact_sha256)
        except IntegrityError as exc:
            raise ApplicationError(f"artifact of {agent_name} v{version} refused: {exc}", type="ArtifactIntegrity",
                                   non_retryable=True) from exc
        except ArtifactNotFound as exc:
            raise ApplicationError(f"{agent_name} v{version}: {exc}", type="UnknownArtifact", non_retryable=True) from exc
        model = row.spec.get("model") or self.default_model
        graph = loaded.graph({"configurable": {"model": model}})
        checkpointer = await self._checkpointer()
        if self._store is None:  # on first use, on the activities' loop and the checkpointer's (now open) pool
            self._store = await open_graph_store(self._pool)
        parts = {"checkpointer": checkpointer, "store": self._store}
        # an artifact's build() may compile its graph itself: the platform's checkpointer and store replace its own
        compiled = graph.copy(update=parts) if hasattr(graph, "astream") else graph.compile(**parts)
        m = loaded.manifest
        input_model = loaded.attr(m.input_model) if m.input_model else None
        return CompiledVersion(
            artifact_sha256=row.artifact_sha256, graph=compiled, model=model, input_model=input_model,
            input_validator=Draft202012Validator(m.input_schema) if input_model is None and m.input_schema else None,
            output_fn=loaded.attr(m.output) if m.output else None,
            output_keys=tuple((m.output_schema or {}).get("properties", {})),
            durability=spec_durability(row.spec, self.default_model), declared_durability=row.spec.get("durability") or "auto")

    async def thread_values(self, agent_name: str, version: int, thread_id: str) -> dict:
        """The latest state values of ``thread_id`` as JSON (what a finished run's webhook carries).

        Raises:
            ApplicationError: as :meth:`compiled`.
        """
        c = await self.compiled(agent_name, version)
        state = await c.graph.aget_state({"configurable": {"thread_id": thread_id}})
        return to_jsonable(state.values or {})

    async def _price_table(self) -> dict[str, tuple[float, float]]:
        if (prices := self._prices.get("prices")) is None:
            prices = await self.db.read(queries.model_prices) or dict(DEFAULT_PRICES)
            self._prices["prices"] = prices
        return prices

    async def _record_usage(self, run_id: str, usage: UsageCollector, agent: str) -> tuple[int, int, float]:
        """Write one ``llm_usage`` row per LLM call (and count it in ``agent``'s LLM metrics); returns (tokens in, tokens out, cost USD)."""
        if not usage.calls:
            return 0, 0, 0.0
        prices = await self._price_table()
        rows = []
        for c in usage.calls:
            try:
                cost = price_usd(c.model, c.tokens_in, c.tokens_out, prices)
            except KeyError:
                activity.logger.warning("no price for model %s; its cost is recorded as 0", c.model)
                cost = 0.0
            rows.append(LlmUsage(run_id=run_id, model=c.model, tokens_in=c.tokens_in, tokens_out=c.tokens_out, cost_usd=cost,
                                node=c.node))
        async with self.db.session() as session:
            session.add_all(rows)
            await session.commit()
        for r in rows:
            observe_llm_call(agent, r.model, r.tokens_in, r.tokens_out, r.cost_usd)
        return sum(r.tokens_in for r in rows), sum(r.tokens_out for r in rows), sum(r.cost_usd for r in rows)

    async def _run_usage(self, run_id: str) -> tuple[int, int, float]:
        """The run's LLM totals in ``llm_usage`` (every step and attempt): (tokens in, tokens out, cost USD)."""
        totals = select(func.coalesce(func.sum(LlmUsage.tokens_in), 0), func.coalesce(func.sum(LlmUsage.tokens_out), 0),
                        func.coalesce(func.sum(LlmUsage.cost_usd), 0.0)).where(LlmUsage.run_id == run_id)
        async with self.db.session() as session:
            row = (await session.exec(totals)).one()
        return int(row[0]), int(row[1]), float(row[2])

    async def _budget(self, inp: GraphStepInput) -> _Budget | None:
        """What this attempt may spend of the run's budget (None: no budget). A retried attempt also
        counts what its earlier attempts spent (their calls are in ``llm_usage`` even when they failed)."""
        if inp.budget_usd is None:
            return None
        left = inp.budget_usd
        if activity.info().attempt > 1:
            left -= max((await self._run_usage(inp.run_id))[2] - inp.spent_usd, 0.0)
        return _Budget(left, await self._price_table())

    def _trace(self, inp: GraphStepInput, c: CompiledVersion) -> StepTrace:
        """This graph step's LangSmith tracer and root run id (:mod:`activities.tracing`; empty when off)."""
        info = activity.info()
        return self.tracing.step(run_id=inp.run_id, agent=inp.agent_name, version=inp.version, tenant=inp.tenant,
                                 artifact_sha256=c.artifact_sha256, workflow_id=inp.workflow_id or info.workflow_id,
                                 activity_id=info.activity_id, attempt=info.attempt, first_step=inp.resume is None)

    def _detect_llm(self, inp: GraphStepInput, c: CompiledVersion, usage: UsageCollector) -> None:
        """Move an ``auto`` version checkpointed at exit to per node once one of its steps called an
        LLM (its spec declared no model): from its next step on, no LLM call runs twice after a crash."""
        if usage.calls and c.durability == "exit" and c.declared_durability == "auto":
            activity.logger.warning("%s v%s called an LLM with exit durability; checkpointing after every node from now on",
                                    inp.agent_name, inp.version)
            c.durability = PER_NODE

    async def _already_ended(self, inp: GraphStepInput, c: CompiledVersion, values: dict,
                             why: str = "graph already ended in an earlier execution") -> GraphStepResult:
        """The result of a step with nothing to run (an earlier execution ran the graph to its end, or
        a resume finds no interrupt): the output of the state, no node run now, the run's LLM totals so far."""
        activity.logger.info("run %s: %s; answering from its checkpoint", inp.run_id, why)
        run_in, run_out, run_cost = await self._run_usage(inp.run_id)
        return GraphStepResult(status=GraphStepStatus.COMPLETED, output=_partial_output(c, values), nodes=[], tokens_in=0,
                               tokens_out=0, cost_usd=0.0, run_tokens_in=run_in, run_tokens_out=run_out, run_cost_usd=run_cost)

    @activity.defn(name=RUN_GRAPH)
    async def run_graph(self, inp: GraphStepInput) -> GraphStepResult:
        """Run (or resume) the graph on the run's thread until it ends or hits ``interrupt()``, or, with
        a budget (``budget_usd``), until the LLM cost reaches it at a node boundary: the graph stops
        there and its thread keeps the state so far (the node's checkpoint is written). Every LLM call
        made is written to ``llm_usage`` with its node, also when a node raises.

        Returns:
            ``completed`` with the output; ``interrupted`` with the interrupt's request;
            ``budget_exceeded`` with the output built from the state so far (the agent's output
            function, or the JSON-safe state values where that fails on a partial state); the nodes
            executed; tokens and cost (USD) of this attempt's LLM calls, and the run's totals
            (``run_*``: every step and attempt so far; None when a first attempt made no call).

        Raises:
            ApplicationError (non-retryable, ``InvalidInput``): the run input or resume value fails
                the agent's validation; the message names the field.
            ApplicationError: a node failed: its type and message (non-retryable if the node's own
                ApplicationError was), with the run's LLM totals in its details (``RUN_USAGE_DETAIL``).
        """
        observe_queue_wait(inp.agent_name, activity.info())
        nodes: list[str] = []
        # a local activity has no heartbeat: the workflow task's timeout notices a dead worker
        local = activity.info().is_local
        # heartbeat from the start: loading the graph, waiting for the thread's step lock and reading its
        # checkpoint may outlast the heartbeat timeout on a busy worker, and the attempt is alive
        beat = None if local else asyncio.create_task(
            _keep_heartbeating(lambda: {"node": nodes[-1] if nodes else None, "nodes": len(nodes)}))
        try:
            c = await self.compiled(inp.agent_name, inp.version)
            async with self.thread_step(inp.thread_id):
                return await self._run_step(inp, c, nodes, local)
        finally:
            if beat is not None:
                beat.cancel()

    async def _run_step(self, inp: GraphStepInput, c: CompiledVersion, nodes: list[str], local: bool) -> GraphStepResult:
        """:meth:`run_graph` under the thread's step lock; ``nodes`` collects the nodes executed."""
        usage = UsageCollector()
        # the caller's configurable first: the thread, run and model are the platform's to set
        # LangGraph's own keys are its runtime's: RemoteGraph forwards its caller's (``__pregel_resuming``
        # when the caller's parent resumes), which would make a new input run resume without a value
        caller = {k: v for k, v in inp.configurable.items() if not k.startswith("__") and k not in _RESERVED_CONFIGURABLE}
        configurable = {**caller, "thread_id": inp.thread_id, "model": c.model, "run_id": inp.run_id}
        trace = self._trace(inp, c)
        config = {"configurable": configurable, "callbacks": [usage, *trace.callbacks], **trace.config()}
        state = await c.graph.aget_state(config)
        # the thread's last checkpoint is this run's: an earlier execution of this step got that far
        own = bool(state.metadata) and state.metadata.get("run_id") == inp.run_id
        if inp.resume is not None and state.interrupts:
            payload = Command(resume=inp.resume)
        elif own and (state.next or state.tasks):
            # continue from the last checkpoint; tasks that finished before it (their writes are
            # saved with it, so they are not in ``next``) are not run again
            payload = None
        elif own and state.metadata.get("source") == "loop":
            return await self._already_ended(inp, c, state.values)
        elif inp.input is not None:
            payload = c.validated_input(inp.input)
        elif inp.resume is not None:
            # a Platform resume with no interrupt left to answer (the thread's state was updated past
            # it) runs nothing and answers the state, as the Platform does
            return await self._already_ended(inp, c, state.values, "no pending interrupt to resume")
        else:
            raise ApplicationError("nothing to run: no input, and no pending interrupt to resume", type="InvalidInput",
                                   non_retryable=True)

        budget = await self._budget(inp)
        interrupt = None
        stopped = budget is not None and budget.reached(usage)  # earlier attempts spent it all: run nothing
        try:
            if not stopped:
                streamed = _Streamed(inp, self.events) if inp.stream_modes is not None else None
                modes = streamed.graph_modes if streamed else "updates"
                # closing the stream on a budget stop lets LangGraph write the last node's checkpoint
                async with aclosing(c.graph.astream(payload, config, context=inp.context, stream_mode=modes,
                                                    subgraphs=inp.stream_subgraphs, durability=c.durability)) as stream:
                    async for item in stream:
                        chunk = item if streamed is None else await streamed.take(item)
                        for node, update in (chunk or {}).items():
                            if node == "__interrupt__":
                                interrupt = update[0].value if update else None
                            else:
                                nodes.append(node)
                                if not local:
                                    activity.heartbeat({"node": node, "nodes": len(nodes)})
                        if budget is not None and budget.reached(usage):
                            stopped = True
                            break
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                await _settle_checkpoint_writes(exc)  # before the step lock goes
            await self._record_usage(inp.run_id, usage, inp.agent_name)
            if not isinstance(exc, Exception):  # cancelled: the calls are recorded, the cancellation goes on
                raise
            raise _failure(exc, await self._run_usage(inp.run_id)) from exc
        finally:
            await self.tracing.flush()  # before the activity returns, so no span is lost
        tokens_in, tokens_out, cost = await self._record_usage(inp.run_id, usage, inp.agent_name)
        self._detect_llm(inp, c, usage)
        spent = dict(nodes=nodes, tokens_in=tokens_in, tokens_out=tokens_out, cost_usd=cost)
        if usage.calls or activity.info().attempt > 1:  # else the run's totals did not move: spare the query
            spent.update(zip(("run_tokens_in", "run_tokens_out", "run_cost_usd"), await self._run_usage(inp.run_id)))
        final = await c.graph.aget_state(config)
        # a budget reached by the graph's last node stops nothing: the run completed
        if stopped and (not nodes or final.next or final.interrupts):
            return GraphStepResult(status=GraphStepStatus.BUDGET_EXCEEDED, output=_partial_output(c, final.values), **spent)
        if interrupt is None:
            if not final.interrupts:
                return GraphStepResult(status=GraphStepStatus.COMPLETED, output=c.output(final.values), **spent)
            interrupt = final.interrupts[0].value
        return GraphStepResult(status=GraphStepStatus.INTERRUPTED,
                               interrupt=interrupt if isinstance(interrupt, dict) else {"value": interrupt}, **spent)
