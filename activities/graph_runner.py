"""Execute an agent version's LangGraph graph inside an activity, durably.

The graph is compiled with ``AsyncPostgresSaver`` (one ``thread_id`` per conversation),
streamed node by node with an activity heartbeat after each node. A retried attempt
(the worker died, the heartbeat timed out) continues from the thread's last checkpoint
instead of starting again: nodes already checkpointed do not run a second time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.types import Command
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from pydantic import ValidationError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.llm_usage import UsageCollector, price_usd
from activities.model_prices import current_prices
from reference_agents.base import AgentDefinition
from reference_agents.registry import get_agent
from shipway.db.engine import async_engine
from shipway.db.models import AgentVersion, LlmUsage
from shipway.settings import get_settings
from workflows.types import GraphStepInput, GraphStepResult


@dataclass
class _Compiled:
    agent: AgentDefinition
    graph: object
    model: str | None


_pools: dict[tuple[int, str], AsyncConnectionPool] = {}
_graphs: dict[tuple[int, str, str, int], _Compiled] = {}
_lock = asyncio.Lock()


async def checkpointer() -> AsyncPostgresSaver:
    """An ``AsyncPostgresSaver`` on a connection pool shared by this event loop's activities
    (one pool per loop and database URL)."""
    key = (id(asyncio.get_running_loop()), get_settings().resolved_database_url())
    if key not in _pools:
        pool = AsyncConnectionPool(
            key[1], min_size=2, max_size=30, open=False,
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        )
        await pool.open()
        _pools[key] = pool
    return AsyncPostgresSaver(_pools[key])


async def compiled_graph(agent_name: str, version: int) -> _Compiled:
    """The compiled graph of one agent version, built once per worker process and loop.

    Raises:
        ApplicationError (non-retryable, ``UnknownAgentVersion``): the version is not in the catalog.
    """
    key = (id(asyncio.get_running_loop()), get_settings().resolved_database_url(), agent_name, version)
    if key in _graphs:
        return _graphs[key]
    async with _lock:
        if key not in _graphs:
            async with AsyncSession(async_engine(), expire_on_commit=False) as session:
                row = (await session.exec(select(AgentVersion).where(AgentVersion.agent_name == agent_name, AgentVersion.version == version))).first()
            if row is None:
                raise ApplicationError(f"agent {agent_name} v{version} is not in the catalog", type="UnknownAgentVersion", non_retryable=True)
            agent = get_agent(row.spec["template"])
            graph = agent.build_graph(row.spec.get("config") or {}).compile(checkpointer=await checkpointer())
            _graphs[key] = _Compiled(agent, graph, row.spec.get("model") or get_settings().llm)
    return _graphs[key]


async def _keep_heartbeating(details) -> None:
    """Heartbeat during long nodes too (an LLM call may outlast the heartbeat timeout);
    only once a node has finished, so a retry knows whether anything was checkpointed."""
    timeout = activity.info().heartbeat_timeout
    period = max(timeout.total_seconds() / 3, 0.1) if timeout else 10.0
    while True:
        await asyncio.sleep(period)
        d = details()
        if d["nodes"]:
            activity.heartbeat(d)


def _started_before() -> bool:
    """True when an earlier attempt of this activity already ran at least one node."""
    info = activity.info()
    return info.attempt > 1 and bool(info.heartbeat_details)


def _price(model: str, tokens_in: int, tokens_out: int, prices: dict[str, tuple[float, float]]) -> float:
    try:
        return price_usd(model, tokens_in, tokens_out, prices)
    except KeyError:
        activity.logger.warning("no price for model %s; its cost is recorded as 0", model)
        return 0.0


async def _record_usage(run_id: str, usage: UsageCollector) -> tuple[int, int, float]:
    """Write one ``llm_usage`` row per LLM call; returns (tokens in, tokens out, cost USD)."""
    if not usage.calls:
        return 0, 0, 0.0
    prices = await current_prices()
    rows = [LlmUsage(run_id=run_id, model=c.model, tokens_in=c.tokens_in, tokens_out=c.tokens_out,
                     cost_usd=_price(c.model, c.tokens_in, c.tokens_out, prices)) for c in usage.calls]
    async with AsyncSession(async_engine(), expire_on_commit=False) as session:
        session.add_all(rows)
        await session.commit()
    return sum(r.tokens_in for r in rows), sum(r.tokens_out for r in rows), sum(r.cost_usd for r in rows)


@activity.defn(name="run_graph")
async def run_graph(inp: GraphStepInput) -> GraphStepResult:
    """Run (or resume) the graph on the run's thread until it ends or hits ``interrupt()``.

    Returns:
        :class:`GraphStepResult` with ``status`` ``completed`` (and ``output``) or
        ``interrupted`` (and the interrupt's payload), the nodes executed, tokens and cost (USD).

    Raises:
        ApplicationError (non-retryable, ``InvalidInput``): the run input or resume value fails
            the agent's validation; the message names the field.
    """
    c = await compiled_graph(inp.agent_name, inp.version)
    usage = UsageCollector()
    config = {"configurable": {"thread_id": inp.thread_id, "model": c.model, "run_id": inp.run_id}, "callbacks": [usage]}
    state = await c.graph.aget_state(config)
    if inp.resume is not None and state.interrupts:
        payload = Command(resume=inp.resume)
    elif _started_before() and state.next:
        payload = None  # continue from the last checkpoint
    elif inp.input is not None:
        try:
            payload = c.agent.input_model.model_validate(inp.input).model_dump(mode="json")
        except ValidationError as exc:
            fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ApplicationError(f"invalid input: {fields}", type="InvalidInput", non_retryable=True) from exc
    else:
        raise ApplicationError("nothing to run: no input, and no pending interrupt to resume", type="InvalidInput", non_retryable=True)

    nodes: list[str] = []
    interrupt = None
    beat = asyncio.create_task(_keep_heartbeating(lambda: {"node": nodes[-1] if nodes else None, "nodes": len(nodes)}))
    try:
        async for chunk in c.graph.astream(payload, config, stream_mode="updates"):
            for node, update in chunk.items():
                if node == "__interrupt__":
                    interrupt = update[0].value if update else None
                else:
                    nodes.append(node)
                    activity.heartbeat({"node": node, "nodes": len(nodes)})
    except (ValueError, ValidationError) as exc:
        raise ApplicationError(f"{type(exc).__name__}: {exc}", type="InvalidInput", non_retryable=True) from exc
    finally:
        beat.cancel()
    tokens_in, tokens_out, cost = await _record_usage(inp.run_id, usage)
    if interrupt is None:
        final = await c.graph.aget_state(config)
        if final.interrupts:
            interrupt = final.interrupts[0].value
        else:
            return GraphStepResult(status="completed", output=c.agent.output(final.values), nodes=nodes,
                                   tokens_in=tokens_in, tokens_out=tokens_out, cost_usd=cost)
    return GraphStepResult(status="interrupted", interrupt=interrupt if isinstance(interrupt, dict) else {"value": interrupt},
                           nodes=nodes, tokens_in=tokens_in, tokens_out=tokens_out, cost_usd=cost)
