"""The Temporal worker process: hosts Shipway's workflows and activities.

Task queue ``shipway-control`` runs the lifecycle, deployment and their activities;
``shipway-agents`` runs agent runs and the graph activity. One process may serve both,
or each can be scaled apart (``shipway worker --queue shipway-agents``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client
from temporalio.worker import PollerBehaviorAutoscaling, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities import audit_log, canary_analysis, catalog, graph_runner, run_records, scaffold, spec_guard, spec_validation, traffic
from shipway.settings import AGENTS_TASK_QUEUE, CONTROL_TASK_QUEUE
from workflows.agent_run import AgentRunWorkflow
from workflows.deployment import DeploymentWorkflow
from workflows.lifecycle import AgentLifecycleWorkflow

CONTROL_WORKFLOWS = [AgentLifecycleWorkflow, DeploymentWorkflow]
CONTROL_ACTIVITIES = [
    spec_validation.validate_spec, spec_guard.guard_spec, scaffold.scaffold_agent, catalog.index_agent,
    catalog.set_version_status, catalog.store_validated_spec, catalog.record_approval, audit_log.record_audit,
    traffic.live_version, traffic.set_traffic, traffic.record_deployment, canary_analysis.analyze_canary,
]
AGENT_WORKFLOWS = [AgentRunWorkflow]
# Pure dataclass/constant modules are shared with the sandbox instead of re-imported for every
# workflow run (measured: re-importing them was ~10% of the worker's CPU under load).
PASSTHROUGH_MODULES = ("workflows.types", "workflows.strategies")
AGENT_ACTIVITIES = [graph_runner.run_graph, run_records.record_run]


def build_workers(client: Client, queues: Sequence[str] = (CONTROL_TASK_QUEUE, AGENTS_TASK_QUEUE),
                  max_concurrent_activities: int = 50) -> list[Worker]:
    """One :class:`Worker` per task queue in ``queues``.

    Raises:
        ValueError: an unknown task queue name.
    """
    workers = []
    for queue in queues:
        if queue == CONTROL_TASK_QUEUE:
            workflows, activities = CONTROL_WORKFLOWS, CONTROL_ACTIVITIES
        elif queue == AGENTS_TASK_QUEUE:
            workflows, activities = AGENT_WORKFLOWS, AGENT_ACTIVITIES
        else:
            raise ValueError(f"unknown task queue {queue!r}; known: {CONTROL_TASK_QUEUE}, {AGENTS_TASK_QUEUE}")
        workers.append(Worker(
            client, task_queue=queue, workflows=workflows, activities=activities,
            activity_executor=ThreadPoolExecutor(max_workers=max_concurrent_activities),
            max_concurrent_activities=max_concurrent_activities,
            workflow_runner=SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)),
            workflow_task_poller_behavior=PollerBehaviorAutoscaling(),
            activity_task_poller_behavior=PollerBehaviorAutoscaling(),
        ))
    return workers


async def run_workers(client: Client, queues: Sequence[str]) -> None:
    """Run the workers until cancelled (SIGINT/SIGTERM)."""
    workers = build_workers(client, queues)
    await asyncio.gather(*(w.run() for w in workers))
