"""Workflow code against real recorded histories (``tests/replay/histories``, recorded by
``record_histories.py``): every history replays without a non-determinism error under
``temporalio.worker.Replayer``, and the check itself does catch a workflow that changed its commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from shipway.worker import AGENT_WORKFLOWS, CONTROL_WORKFLOWS, PASSTHROUGH_MODULES
from workflows.types import RUN_WORKFLOW

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))
RUNNER = SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES))


def _history(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


def test_every_workflow_type_has_recorded_histories():
    kinds = {p.stem.split("_")[0] for p in HISTORIES}
    assert {"lifecycle", "deployment", "run", "audit", "retention", "cost", "runbook"} <= kinds, HISTORIES


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_recorded_history_replays_without_nondeterminism(path: Path):
    replayer = Replayer(workflows=[*CONTROL_WORKFLOWS, *AGENT_WORKFLOWS], workflow_runner=RUNNER)
    result = await replayer.replay_workflow(_history(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.stem}: {result.replay_failure}"


@workflow.defn(name=RUN_WORKFLOW, sandboxed=False)
class ReorderedRunWorkflow:
    """A run workflow that skips claiming its thread: the commands no longer match the history."""

    @workflow.run
    async def run(self, inp: dict) -> dict:
        await workflow.sleep(1)
        return {}


async def test_a_changed_workflow_is_caught_by_the_replay_check():
    replayer = Replayer(workflows=[ReorderedRunWorkflow])
    result = await replayer.replay_workflow(_history(next(p for p in HISTORIES if p.stem.startswith("run_"))),
                                            raise_on_replay_failure=False)
    assert isinstance(result.replay_failure, workflow.NondeterminismError), result.replay_failure
