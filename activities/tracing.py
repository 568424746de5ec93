"""LangSmith tracing of agent runs, through LangGraph's own LangChain tracing.

With ``LANGSMITH_API_KEY`` set (:attr:`shipway.settings.Settings.langsmith_api_key`), every execution
of the graph activity (a *graph step*: the run's input, or one resume answer) is one LangSmith trace
in project ``LANGSMITH_PROJECT``: a root run for the graph, a child per node, and below them what the
nodes call (LLMs, tools). Every run in it carries the metadata ``agent``, ``version``, ``tenant``,
``run_id``, ``artifact_sha256``, ``workflow_id``, ``activity_id`` and ``attempt``, and the tags
``shipway``, ``agent:<name>`` and ``tenant:<tenant>``. Without a key nothing is created and nothing is sent.

Root run ids are deterministic (:func:`root_run_id`): the first attempt of a run's first graph step
uses the Shipway run id itself, so the console can link a run to its trace (:func:`trace_url`);
resume steps and retried attempts use ``uuid5(run id, "<activity id>:<attempt>")``.

The metadata goes to the tracer only, not into the graph's ``RunnableConfig["metadata"]``: LangGraph
copies config metadata into every checkpoint's metadata, which tracing must not change.

A LangSmith failure never fails a run: setup errors disable tracing for that step, the client
sends in its background thread, and :meth:`Tracing.flush` (bounded by :data:`FLUSH_TIMEOUT_S`) logs
and continues.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import langsmith
from cachetools import LRUCache
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.tracers import LangChainTracer

from shipway.settings import Settings, get_settings

log = logging.getLogger(__name__)

# Longest a graph step waits, when it ends, for its spans to reach LangSmith (seconds): well inside
# the graph activity's heartbeat timeout (30 s by default), as no heartbeat is sent meanwhile.
FLUSH_TIMEOUT_S = 5.0
# Longest one LangSmith API call of trace_url may take (seconds).
TRACE_URL_TIMEOUT_S = 5.0


def root_run_id(run_id: str, activity_id: str, attempt: int, first_step: bool) -> uuid.UUID:
    """The LangSmith id of a graph step's root run (which is also its trace id).

    Args:
        run_id: the Shipway run id (a UUID string).
        activity_id: the graph activity's Temporal activity id.
        attempt: the activity attempt, from 1.
        first_step: True for the run's input step, False for a resume step.

    Returns:
        the run id itself for attempt 1 of the first step, else ``uuid5(run id, "<activity_id>:<attempt>")``.

    Raises:
        ValueError: ``run_id`` is not a UUID.
    """
    run_uuid = uuid.UUID(run_id)
    return run_uuid if first_step and attempt == 1 else uuid.uuid5(run_uuid, f"{activity_id}:{attempt}")


@dataclass(frozen=True)
class StepTrace:
    """What one graph step adds to its ``RunnableConfig`` to be traced: extra ``callbacks`` and
    :meth:`config` (the root ``run_id``). Empty when tracing is off."""

    callbacks: list[BaseCallbackHandler] = field(default_factory=list)
    root_id: uuid.UUID | None = None

    def config(self) -> dict[str, Any]:
        """Keys to merge into the graph's ``RunnableConfig`` (``{"run_id": root id}``, or nothing)."""
        return {"run_id": self.root_id} if self.root_id else {}


class Tracing:
    """The worker's LangSmith client (one per worker, or None when no key is configured) and the
    project traces go to. Build with :meth:`from_settings`; :meth:`close` on shutdown.

    Args:
        client: a ``langsmith.Client``, or None (the default) to trace nothing.
        project: LangSmith project (tracing session) name.
    """

    def __init__(self, client: langsmith.Client | None = None, project: str = "") -> None:
        self.client = client
        self.project = project

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Tracing:
        """Tracing to ``langsmith_endpoint`` / ``langsmith_project`` when ``langsmith_api_key`` is set, else off."""
        settings = settings or get_settings()
        if not settings.langsmith_api_key:
            return cls(None, settings.langsmith_project)
        client = langsmith.Client(api_url=settings.langsmith_endpoint, api_key=settings.langsmith_api_key)
        return cls(client, settings.langsmith_project)

    @property
    def enabled(self) -> bool:
        """True when a LangSmith client is configured."""
        return self.client is not None

    def step(self, *, run_id: str, agent: str, version: int, tenant: str, artifact_sha256: str, workflow_id: str,
             activity_id: str, attempt: int, first_step: bool) -> StepTrace:
        """The tracer and root run id of one graph step (see the module docstring for what is traced).

        Never raises: a setup failure is logged and the step runs untraced.
        """
        if self.client is None:
            return StepTrace()
        try:
            root = root_run_id(run_id, activity_id, attempt, first_step)
            metadata = {"agent": agent, "version": version, "tenant": tenant, "run_id": run_id,
                        "artifact_sha256": artifact_sha256, "workflow_id": workflow_id, "activity_id": activity_id,
                        "attempt": attempt}
            tracer = LangChainTracer(project_name=self.project, client=self.client, metadata=metadata,
                                     tags=["shipway", f"agent:{agent}", f"tenant:{tenant}"])
            return StepTrace(callbacks=[tracer], root_id=root)
        except Exception:  # noqa: BLE001 - tracing must never fail a run
            log.warning("LangSmith tracing disabled for run %s: setup failed", run_id, exc_info=True)
            return StepTrace()

    async def flush(self) -> None:
        """Send what the client still holds, waiting at most :data:`FLUSH_TIMEOUT_S` seconds; never raises."""
        if self.client is None:
            return
        try:
            await asyncio.to_thread(self.client.flush, FLUSH_TIMEOUT_S)
        except Exception:  # noqa: BLE001 - tracing must never fail a run
            log.warning("LangSmith flush failed; some spans may be lost", exc_info=True)

    async def close(self) -> None:
        """Flush (bounded by :data:`FLUSH_TIMEOUT_S`) and stop the client's background threads."""
        if self.client is not None:
            client, self.client = self.client, None
            await asyncio.to_thread(client.close, FLUSH_TIMEOUT_S)


# -- the console's link to a run's trace ------------------------------------------------------------
_urls: LRUCache = LRUCache(maxsize=1024)  # run id -> trace URL (found URLs only: a trace may arrive later)
_projects: dict[tuple[str, str], str] = {}  # (endpoint, project name) -> project id
_lock = threading.Lock()


def trace_url(run_id: str) -> str | None:
    """The LangSmith web URL of a run's trace (the root of its first graph step), or None when
    LangSmith is not configured, the project or trace is not (yet) there, or LangSmith fails.

    Source: LangSmith's ``GET /api/v2/sessions?name=<project>`` (project id) and
    ``GET /api/v2/runs/<run id>/url`` (the URL, as the server builds it; self-hosted LangSmith
    0.16 or later), through the generated ``langsmith.Langsmith`` client. Found URLs are cached.
    Blocking: at most two calls of :data:`TRACE_URL_TIMEOUT_S` seconds each.
    """
    settings = get_settings()
    if not settings.langsmith_api_key:
        return None
    with _lock:
        if (hit := _urls.get(run_id)) is not None:
            return hit
    try:
        api = langsmith.Langsmith(api_key=settings.langsmith_api_key, base_url=_openapi_base(settings.langsmith_endpoint),
                                  timeout=TRACE_URL_TIMEOUT_S, max_retries=1)
        with api:
            key = (settings.langsmith_endpoint, settings.langsmith_project)
            if (project_id := _projects.get(key)) is None:
                page = api.sessions.list_v2(name=settings.langsmith_project, page_size=1)
                if not page.items:
                    return None
                project_id = _projects.setdefault(key, page.items[0].id)
            url = api.runs.get_url(run_id, project_id=project_id, trace_id=run_id).url
    except Exception:  # noqa: BLE001 - a failed lookup only costs the link
        log.info("no LangSmith trace URL for run %s", run_id, exc_info=True)
        return None
    if url:
        with _lock:
            _urls[run_id] = url
    return url or None


def _openapi_base(endpoint: str) -> str:
    # LangSmith's v2 API paths start with /api/v2 from the host root, while a self-hosted
    # LANGSMITH_ENDPOINT names .../api/v1 (or .../api): strip that, as langsmith.Client does.
    endpoint = endpoint.rstrip("/")
    for suffix in ("/api/v1", "/api"):
        if endpoint.endswith(suffix):
            return endpoint[: -len(suffix)]
    return endpoint
