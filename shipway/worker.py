"""The Temporal worker process: hosts Shipway's workflows and activities.

Task queue ``shipway-control`` runs the lifecycle, deployment and their activities;
``shipway-agents`` runs agent runs and the graph activity. One process may serve both,
or each can be scaled apart (``shipway worker --queue shipway-agents``).
"""

from __future__ import annotations

import asyncio
import inspect
import py_compile
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client
from temporalio.worker import PollerBehaviorAutoscaling, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities import spec_guard, spec_validation
from activities.approval_requests import ApprovalRequestActivities
from activities.approvals import ApprovalActivities
from activities.artifact_loader import ArtifactCache
from activities.artifact_store import store_from_settings
from activities.audit_log import AuditActivities
from activities.canary import CanaryActivities
from activities.catalog import CatalogActivities
from activities.deployments import DeploymentActivities
from activities.embeddings import embed
from activities.graph_runner import GraphActivities
from activities.guards.pii import PiiGuard
from activities.guards.rails import RailsGuard
from activities.guards.run_guards import GuardActivities
from activities.retention import RetentionActivities  # checkpoint retention
from activities.cost_rollups import CostRollupActivities  # cost governance
from activities.backups import BackupActivities
from activities.restores import RestoreActivities
from activities.db_health import DbHealthActivities
from activities.rds_recovery import RdsRecoveryActivities
from activities.run_health import RunHealthActivities
from activities.run_reconciliation import RunReconciliationActivities
from activities.runbook_reports import RunbookReportActivities
from activities.runbook_starter import RunbookStarterActivities
from activities.search_health import SearchHealthActivities
from activities.webhook_health import WebhookHealthActivities
from activities.run_events import RunEventActivities, RunEventWriter
from activities.run_webhooks import RunWebhookActivities
from activities.runs import RunActivities
from activities.thread_updates import ThreadUpdateActivities
from activities.scaffold import BuildActivities
from activities.tracing import Tracing
from activities.traffic import TrafficActivities
from activities.version_services import VersionServiceActivities
from shipway.checkpoint_crypto import encrypted_serde
from shipway.db.engine import Database
from shipway.metrics import POOLS, poll_task_queue_backlog, psycopg_pool_stats, serve_metrics, sqlalchemy_pool_stats
from shipway.settings import AGENTS_TASK_QUEUE, CONTROL_TASK_QUEUE, Settings, get_settings
from shipway.schedules import ensure_schedules
from workflows.agent_run import AgentRunWorkflow
from workflows.threads import ThreadWorkflow
from workflows.thread_state import ThreadStateWorkflow
from workflows.audit_verification import AuditVerificationWorkflow
from workflows.deployment import DeploymentWorkflow
from workflows.lifecycle import AgentLifecycleWorkflow
from workflows.retention import CheckpointRetentionWorkflow  # checkpoint retention
from workflows.cost_rollup import CostRollupWorkflow  # cost governance
from workflows.runbooks.backup import BackupRunbook
from workflows.runbooks.connection_pool import ConnectionPoolRunbook
from workflows.runbooks.failed_deployment import FailedDeploymentRunbook
from workflows.runbooks.high_error_rate import HighErrorRateRunbook
from workflows.runbooks.restore import RestoreRunbook
from workflows.runbooks.restore_drill import RestoreDrillRunbook
from workflows.runbooks.slow_search import SlowSearchRunbook
from workflows.runbooks.triggers import RunbookTriggersWorkflow
from workflows.runbooks.webhook_failures import WebhookFailuresRunbook

QUEUES = (CONTROL_TASK_QUEUE, AGENTS_TASK_QUEUE)
CONTROL_WORKFLOWS = [AgentLifecycleWorkflow, DeploymentWorkflow, AuditVerificationWorkflow]
CONTROL_WORKFLOWS.append(CheckpointRetentionWorkflow)  # checkpoint retention
CONTROL_WORKFLOWS.append(CostRollupWorkflow)  # cost governance
RUNBOOK_WORKFLOWS = [HighErrorRateRunbook, ConnectionPoolRunbook, SlowSearchRunbook, FailedDeploymentRunbook,
                     WebhookFailuresRunbook, BackupRunbook, RestoreRunbook, RestoreDrillRunbook, RunbookTriggersWorkflow]
CONTROL_WORKFLOWS.extend(RUNBOOK_WORKFLOWS)
AGENT_WORKFLOWS = [AgentRunWorkflow, ThreadWorkflow, ThreadStateWorkflow]
# Pure dataclass/constant modules are shared with the sandbox instead of re-imported for every
# workflow run (measured: re-importing them was ~10% of the worker's CPU under load).
PASSTHROUGH_MODULES = ("workflows.types", "workflows.statuses", "workflows.strategies", "workflows.runbook_types",
                       "workflows.backup_types", "workflows.diagnostics_types")


def precompile_workflows(workflows: Sequence[type]) -> None:
    """Under ``PYTHONDONTWRITEBYTECODE``, write the bytecode of each workflow class's module
    (``__pycache__``) at worker start; otherwise importing the module already wrote it.

    The sandbox imports a workflow's module afresh for every workflow run; under
    ``PYTHONDONTWRITEBYTECODE`` (set on these machines) no ``.pyc`` exists and it compiled
    ``workflows/agent_run.py`` from source on every run, ~9% of the worker's CPU under load
    (docs/performance.md). A module that cannot be written next to (read-only install) is left as is.
    """
    if not sys.dont_write_bytecode:
        return
    for path in {inspect.getsourcefile(w) for w in workflows}:
        try:
            py_compile.compile(path, doraise=True)
        except (OSError, py_compile.PyCompileError, TypeError):
            continue


class ShipwayWorkers:
    """Shipway's workers for some task queues, and the resources their activities own: one
    database pool, the artifact store, the checkpointer pool, unpacked artifacts and compiled graphs,
    and the run guards' PII analyzer and rails. Use as
    ``async with build_workers(client) as workers: await workers.run()``; leaving closes them.

    Raises:
        ValueError: an unknown task queue name.
        RuntimeError: no database is configured.
    """

    def __init__(self, client: Client, queues: Sequence[str] = QUEUES, settings: Settings | None = None,
                 max_concurrent_activities: int = 50) -> None:
        settings = settings or get_settings()
        if unknown := set(queues) - set(QUEUES):
            raise ValueError(f"unknown task queue(s) {sorted(unknown)}; known: {', '.join(QUEUES)}")
        self.client, self.queues = client, tuple(queues)
        self.settings = settings
        # every tenant's rows, through row-level security's explicit platform policy (migration 0008)
        self.db = Database(settings.resolved_database_url(), role=settings.worker_db_role or None)
        self.store = store_from_settings(settings)
        self.build = BuildActivities(self.store, settings.build_test_timeout_s)
        artifacts = ArtifactCache(settings.resolved_artifact_cache_dir, self.store.get)
        # LangSmith tracing of agent runs when LANGSMITH_API_KEY is set (one client per worker)
        tracing = Tracing.from_settings(settings) if AGENTS_TASK_QUEUE in queues else None
        # chunks of streamed runs (the LangGraph Platform API's streams) go to run_events for every gateway
        self.events = RunEventWriter(self.db.url, role=self.db.role, max_size=4)
        self.graphs = GraphActivities(self.db, artifacts, settings.llm, serde=encrypted_serde(settings), tracing=tracing,
                                      events=self.events)
        self.guards = GuardActivities(self.db, PiiGuard(), RailsGuard(llm=settings.llm), artifacts) if AGENTS_TASK_QUEUE in queues else None
        audit, runs = AuditActivities(self.db), RunActivities(self.db)
        by_queue = {
            CONTROL_TASK_QUEUE: (CONTROL_WORKFLOWS, self._control_activities(audit)),
            AGENTS_TASK_QUEUE: (AGENT_WORKFLOWS, [self.graphs.run_graph, runs.start_run, runs.record_run, runs.create_thread, audit.record_audit,
                                                  RunEventActivities(self.events).end_run_stream,
                                                  RunWebhookActivities.from_settings(settings, self.graphs).deliver_run_webhook,
                                                  ThreadUpdateActivities(self.graphs).update_thread_state,
                                                  *([self.guards.guard_input, self.guards.verify_output] if self.guards else [])]),
        }
        precompile_workflows([w for q in queues for w in by_queue[q][0]])
        self.workers = [
            Worker(client, task_queue=queue, workflows=by_queue[queue][0], activities=by_queue[queue][1],
                   activity_executor=ThreadPoolExecutor(max_workers=max_concurrent_activities),
                   max_concurrent_activities=max_concurrent_activities,
                   workflow_runner=SandboxedWorkflowRunner(
                       restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)),
                   workflow_task_poller_behavior=PollerBehaviorAutoscaling(),
                   activity_task_poller_behavior=PollerBehaviorAutoscaling())
            for queue in queues
        ]
        self._tasks: list[asyncio.Task] = []
        # -- metrics: pool gauges now; the /metrics server and the backlog poller when the workers start
        self._metrics_stops = [POOLS.track("worker", sqlalchemy_pool_stats(self.db.engine)),
                               POOLS.track("checkpointer", psycopg_pool_stats(self.graphs._pool)),
                               POOLS.track("step_locks", psycopg_pool_stats(self.graphs._step_locks))]

    def _control_activities(self, audit: AuditActivities) -> list:
        catalog = CatalogActivities(self.db, embed)
        requests = ApprovalRequestActivities.from_settings(self.db, self.settings, self.store)
        versions = VersionServiceActivities.from_settings(self.settings)
        return [
            spec_validation.validate_spec, spec_guard.guard_spec, self.build.scaffold_agent,
            catalog.register_version, catalog.store_validated_spec, catalog.set_version_status, catalog.index_agent,
            catalog.live_version, catalog.set_live_version, ApprovalActivities(self.db).record_approval,
            audit.record_audit, TrafficActivities.from_settings(self.db, self.settings).set_traffic, DeploymentActivities(self.db).record_deployment,
            CanaryActivities(self.db).analyze_canary, audit.verify_audit_chain, requests.open_request, requests.note,
            versions.prepare_version, versions.retire_version,
            RetentionActivities.from_settings(self.db, self.settings).prune_checkpoints,  # checkpoint retention
            CostRollupActivities(self.db).rollup_costs,  # cost governance
            *self._runbook_activities(),
        ]

    def _runbook_activities(self) -> list:
        """The runbooks' activities: their records, starting them, diagnostics and remediations, backups
        and restores (RDS ones when ``rds_instance_id`` is set)."""
        starter = RunbookStarterActivities(self.client, self.db, self.settings)
        db_health, search = DbHealthActivities(self.db), SearchHealthActivities(self.db)
        run_health, webhooks = RunHealthActivities(self.db), WebhookHealthActivities(self.db, self.client)
        backups, restores = BackupActivities(self.settings, self.db), RestoreActivities(self.settings)
        found = [
            RunbookReportActivities(self.db).save_runbook_state, starter.start_runbook, starter.check_runbook_triggers,
            RunReconciliationActivities(self.db, self.client).reconcile_runs,
            db_health.inspect_connections, db_health.terminate_backends, search.inspect_search_index,
            search.rebuild_search_index, run_health.error_rates, run_health.recent_deployments,
            webhooks.webhook_failures, webhooks.replay_dead_letters,
            backups.take_base_backup, backups.ship_wal, backups.prune_backups, restores.restore_to_point,
            restores.stop_instance, restores.switch_database, restores.source_position, restores.verify_restored,
        ]
        if self.settings.rds_instance_id:
            rds = RdsRecoveryActivities.from_settings(self.settings)
            found += [rds.snapshot, rds.prune_snapshots, rds.restore_to_point, rds.describe, rds.delete_instance]
        return found

    async def _schedules(self) -> None:
        if CONTROL_TASK_QUEUE in self.queues:
            await ensure_schedules(self.client, self.settings)

    def _serve_metrics(self) -> None:
        """Serve ``/metrics`` on ``worker_metrics_port`` (when set) and keep the task-queue backlog gauges fresh."""
        if self.settings.worker_metrics_port:
            self._metrics_stops.append(serve_metrics(self.settings.worker_metrics_port, self.settings.metrics_host))
            poller = asyncio.create_task(poll_task_queue_backlog(self.client, self.queues))
            self._metrics_stops.append(poller.cancel)

    async def run(self) -> None:
        """Create Shipway's schedules if missing (control queue), poll until cancelled (SIGINT/SIGTERM),
        then release the resources."""
        await self._schedules()
        self._serve_metrics()
        try:
            await asyncio.gather(*(w.run() for w in self.workers))
        finally:
            await self.close()

    async def __aenter__(self) -> ShipwayWorkers:
        await self._schedules()
        self._serve_metrics()
        self._tasks = [asyncio.create_task(w.run()) for w in self.workers]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.gather(*(w.shutdown() for w in self.workers))
        for t in self._tasks:
            t.cancel()
        await self.close()

    async def close(self) -> None:
        """Stop the metrics server and backlog poller, close the graph activity's checkpointer pool and the database pool."""
        for stop in self._metrics_stops:
            stop()
        self._metrics_stops = []
        await self.graphs.close()
        await self.events.close()
        await self.db.dispose()


def build_workers(client: Client, queues: Sequence[str] = QUEUES, settings: Settings | None = None,
                  max_concurrent_activities: int = 50) -> ShipwayWorkers:
    """Shipway's workers for ``queues`` with their activities' resources (see :class:`ShipwayWorkers`)."""
    return ShipwayWorkers(client, queues, settings, max_concurrent_activities)
