"""Starting a LangGraph Platform API run: the request body, what Shipway refuses in it, the
assistant and thread it names, and the ``AgentRunWorkflow`` it becomes (``PlatformRun``).

Canary routing applies as on ``/v1``: a new thread is routed by the live traffic weights, a thread
stays on its version. ``multitask_strategy`` on a thread that a run holds: ``reject`` answers 409;
``enqueue`` (the default) queues the run in its workflow until the thread is free; ``interrupt``
cancels the holder first. Not implemented, answered 422 naming the field: ``rollback``,
``command.update`` / ``command.goto``, ``interrupt_before`` / ``interrupt_after``, ``checkpoint`` /
``checkpoint_id``, ``after_seconds``. A ``webhook`` needs ``SHIPWAY_RUN_WEBHOOK_SECRET``, and a
private address ``SHIPWAY_RUN_WEBHOOK_ALLOW_PRIVATE``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends
from pydantic import AfterValidator, BaseModel, ConfigDict
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from activities.run_webhooks import check_destination
from shipway import control, queries
from shipway.auth.keys import Principal
from shipway.auth.roles import Action
from shipway.db.engine import Database
from shipway.db.models import Run, Thread, utcnow
from shipway.gateway.auth import require
from shipway.gateway.budgets import refuse_over_daily_budget
from shipway.gateway.deps import get_client, get_db, get_settings, get_versions
from shipway.gateway.errors import ApiError
from shipway.gateway.schemas import JsonObject, LookupText, storable
from shipway.gateway.versions import UnknownVersion, VersionCache
from shipway.langgraph_api import assistants
from shipway.settings import Settings
from workflows.types import SA_AGENT, SA_TENANT, run_workflow_id

_NOT_IMPLEMENTED = ("interrupt_before", "interrupt_after", "checkpoint", "checkpoint_id", "after_seconds")


class Command(BaseModel):
    """``command``: only ``resume`` is implemented (any JSON value answering the pending interrupt)."""

    model_config = ConfigDict(extra="allow")
    resume: Annotated[Any, AfterValidator(storable)] = None
    update: Any = None
    goto: Any = None


class RunCreate(BaseModel):
    """The body of ``POST /threads/{tid}/runs[/wait]`` and ``POST /runs[/wait]`` (langgraph_sdk's
    ``runs.create`` / ``runs.wait`` payload); fields the SDK sends that Shipway ignores are accepted."""

    model_config = ConfigDict(extra="allow")
    assistant_id: LookupText
    input: JsonObject | None = None
    command: Command | None = None
    config: JsonObject | None = None
    context: JsonObject | None = None
    metadata: JsonObject | None = None
    multitask_strategy: Literal["reject", "enqueue", "interrupt", "rollback"] = "enqueue"
    if_not_exists: Literal["create", "reject"] = "reject"
    webhook: LookupText | None = None
    stream_mode: LookupText | list[LookupText] | None = None
    stream_subgraphs: bool = False
    stream_resumable: bool = False
    on_completion: Literal["delete", "keep"] | None = None
    on_disconnect: Literal["cancel", "continue"] | None = None


async def check_webhook(url: str, settings: Settings) -> None:
    """422 for a webhook Shipway would not deliver: no signing secret configured, not http(s), or
    an address it may not reach (checked again at delivery)."""
    if not settings.run_webhook_secret:
        raise ApiError(422, "webhook: run webhooks are signed; set SHIPWAY_RUN_WEBHOOK_SECRET to use them")
    try:
        await check_destination(url, settings.run_webhook_allow_private)
    except ApplicationError as exc:
        raise ApiError(422, f"webhook: {exc.message}") from exc


def refuse_unimplemented(body: RunCreate) -> None:
    """422 naming each field set in ``body`` that Shipway does not implement."""
    unsupported = [name for name in _NOT_IMPLEMENTED if getattr(body, name, None) not in (None, [], {})]
    if body.multitask_strategy == "rollback":
        unsupported.append("multitask_strategy=rollback")
    # RemoteGraph sends every field of its Command: no update is None, no goto an empty list
    if body.command is not None and (body.command.update not in (None, [], {}) or body.command.goto not in (None, [], {})):
        unsupported.append("command.update/goto")
    if unsupported:
        raise ApiError(422, f"not implemented by Shipway: {', '.join(unsupported)}")
    if body.command is not None and body.input is not None:
        raise ApiError(422, "give either input or command, not both")


async def agent_name_of(db: Database, ref: str, tenant: str) -> str:
    """The live agent an assistant id or name ``ref`` names for ``tenant``; 404 when none."""
    live = await db.read(queries.live_agents, as_tenant=tenant)
    found = assistants.resolve(ref, live)
    if found is None:
        raise ApiError(404, f"assistant {ref!r} not found")
    return found.agent.name


async def run_thread(db: Database, client: Client, thread_id: str, body: RunCreate, principal: Principal, agent: str) -> Thread:
    """The run's thread, made first with ``if_not_exists="create"``; 404 when missing, 409 when it is another agent's."""
    thread = await db.read(queries.thread, thread_id, as_tenant=principal.tenant)
    if thread is None:
        if body.if_not_exists != "create":
            raise ApiError(404, f"thread {thread_id!r} not found")
        try:
            await control.create_thread(client, thread_id, principal.tenant, {}, "do_nothing", created_by=principal.key_id)
        except control.ActionRefused as exc:
            raise ApiError(409, "thread not available", exc.reason) from exc
        thread = await db.read(queries.thread, thread_id, as_tenant=principal.tenant)
    if thread.agent_name not in (None, agent):
        raise ApiError(409, "thread not available", f"thread {thread_id!r} belongs to agent {thread.agent_name!r}")
    return thread


@dataclass(frozen=True)
class StartContext:
    """What starting a run needs: the database, Temporal, the served versions, the settings and the caller."""

    db: Database
    client: Client
    versions: VersionCache
    settings: Settings
    principal: Principal


async def run_starter(db: Annotated[Database, Depends(get_db)], client: Annotated[Client, Depends(get_client)],
                      versions: Annotated[VersionCache, Depends(get_versions)], settings: Annotated[Settings, Depends(get_settings)],
                      principal: Annotated[Principal, Depends(require(Action.RUN_START))]) -> StartContext:
    """The :class:`StartContext` of a request (a ``Depends``): a key with ``run:start``."""
    return StartContext(db, client, versions, settings, principal)


Starter = Annotated[StartContext, Depends(run_starter)]


async def start_platform_run(thread_id: str | None, body: RunCreate, start: StartContext, wait: bool,
                             stream_modes: list[str] | None = None) -> Run:
    """Start (and with ``wait`` wait for) one Platform run, storing its chunks of ``stream_modes``
    for its stream; returns its row."""
    db, client, versions, settings, principal = start.db, start.client, start.versions, start.settings, start.principal
    refuse_unimplemented(body)
    if body.webhook is not None:
        await check_webhook(body.webhook, settings)
    agent = await agent_name_of(db, body.assistant_id, principal.tenant)
    queued = False
    if thread_id is not None:
        thread = await run_thread(db, client, thread_id, body, principal, agent)
        if thread.active_run_id:
            queued = body.multitask_strategy == "enqueue"
            if body.multitask_strategy == "reject":
                raise ApiError(409, "thread is busy", f"run {thread.active_run_id} holds thread {thread_id!r}")
            if body.multitask_strategy == "interrupt":
                await control.cancel_run(client, thread.active_run_id)
    try:
        version = await control.pick_version(db, agent, tenant=principal.tenant, thread_id=thread_id)
        served = await versions.get(agent, version, principal.tenant)
    except (control.UnknownAgentError, UnknownVersion) as exc:
        raise ApiError(404, str(exc)) from exc
    resume = body.command.resume if body.command is not None else None
    if resume is None and (errors := served.input_errors(body.input or {})):
        raise ApiError(422, "invalid input for agent", errors)
    await refuse_over_daily_budget(db, agent, principal)
    platform = control.PlatformRun(resume=resume, wait_for_thread=queued, metadata=body.metadata or {},
                                   stream_modes=stream_modes, stream_subgraphs=body.stream_subgraphs, webhook=body.webhook)
    configurable = (body.config or {}).get("configurable")
    # local graph steps only for a caller who waits: the run's acceptance is answered with the
    # workflow task, which a local step holds until the graph ends
    try:
        run_id, _ = await control.start_run(client, agent, version, {} if resume is not None else body.input or {},
                                            thread_id=thread_id, tenant=principal.tenant, context=body.context,
                                            configurable=configurable, wait=wait, started_by=principal.key_id,
                                            max_cost_usd=served.max_cost_usd, local_graph=served.durability == "exit" and wait,
                                            platform=platform)
    except control.ActionRefused as exc:
        raise ApiError(409, "thread not available", exc.reason) from exc
    if not wait:
        row = await db.read(queries.run, run_id, as_tenant=principal.tenant)
        if row is None:  # queued for a busy thread: not recorded until it holds it
            return Run(id=run_id, agent_name=agent, version=version, thread_id=thread_id or run_id, tenant=principal.tenant,
                       workflow_id="", meta=body.metadata or {}, started_at=utcnow())
        return row
    return await db.read(queries.run, run_id, as_tenant=principal.tenant)


async def run_of_thread(db: Database, client: Client, thread_id: str, run_id: str, principal: Principal) -> Run:
    """The run's row; a run queued for its busy thread (``enqueue``), not recorded yet, as a pending
    row from its workflow. 404 for a run of another thread or tenant."""
    run = await db.read(queries.run, run_id, as_tenant=principal.tenant)
    if run is None:
        run = await queued_run(client, run_id, thread_id, principal.tenant)
    if run is None or run.thread_id != thread_id:
        raise ApiError(404, f"run {run_id!r} not found on thread {thread_id!r}")
    return run


async def queued_run(client: Client, run_id: str, thread_id: str, tenant: str) -> Run | None:
    """A pending row for a run workflow of ``tenant`` that is still waiting for ``thread_id``, or None."""
    try:
        described = await client.get_workflow_handle(run_workflow_id(run_id)).describe()
    except RPCError:
        return None
    attrs = described.typed_search_attributes
    if attrs.get(SA_TENANT) != tenant or described.status != WorkflowExecutionStatus.RUNNING:
        return None
    return Run(id=run_id, agent_name=attrs.get(SA_AGENT) or "", version=0, thread_id=thread_id, tenant=tenant,
               workflow_id="", started_at=described.start_time)
