"""The pure decisions inside the runbook workflows: how High error rate takes traffic off a failing
version, and how the restore drill measures the RPO."""

from __future__ import annotations

from workflows.diagnostics_types import DeploymentInfo, ErrorRateRow
from workflows.runbooks.high_error_rate import rollback_plan
from workflows.runbooks.restore_drill import rpo_seconds
from workflows.statuses import DeploymentState


def _row(version: int) -> ErrorRateRow:
    return ErrorRateRow("a", version, runs=10, errors=8, error_rate=0.8, p95_latency_ms=None, top_errors=[])


def _deployment(version: int, state: DeploymentState, stable: int | None) -> DeploymentInfo:
    return DeploymentInfo(f"deploy:a:v{version}", "a", version, "Canary10Percent5Minutes", state, "2026-12-01T00:00:00+00:00",
                          None, stable, [], {})


def test_a_rollout_in_progress_is_aborted_and_a_finished_one_rolled_back_to_the_version_before_it():
    assert rollback_plan(_row(3), [_deployment(3, DeploymentState.IN_PROGRESS, 2)])[0] == "abort"
    assert rollback_plan(_row(3), [_deployment(3, DeploymentState.PAUSED, 2)])[0] == "abort"
    assert rollback_plan(_row(3), [_deployment(3, DeploymentState.SUCCEEDED, 2)])[::2] == ("traffic", 2)
    # the stable version unknown: the newest earlier version that went live
    plan = rollback_plan(_row(3), [_deployment(3, DeploymentState.SUCCEEDED, None), _deployment(2, DeploymentState.ROLLED_BACK, 1),
                                   _deployment(1, DeploymentState.SUCCEEDED, None)])
    assert plan[::2] == ("traffic", 1)
    assert rollback_plan(_row(1), [_deployment(1, DeploymentState.SUCCEEDED, None)])[0] == "none"
    assert rollback_plan(_row(1), [])[0] == "none"


def test_rpo_is_the_committed_work_a_restore_at_that_moment_would_lose():
    assert rpo_seconds("2026-12-01T10:00:30+00:00", "2026-12-01T10:00:12.5+00:00") == 17.5
    assert rpo_seconds("2026-12-01T10:00:30+00:00", "2026-12-01T10:00:30+00:00") == 0.0
    assert rpo_seconds("2026-12-01T10:00:30+00:00", "2026-12-01T10:00:31+00:00") == 0.0  # the restore has everything
    assert rpo_seconds(None, "2026-12-01T10:00:30+00:00") is None and rpo_seconds("2026-12-01T10:00:30+00:00", None) is None
