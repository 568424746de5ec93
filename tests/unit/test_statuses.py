"""The state machines of versions, runs and deployments, as the docs draw them."""

from __future__ import annotations

from workflows.statuses import (
    DEPLOYMENT_TRANSITIONS,
    RUN_TRANSITIONS,
    VERSION_TRANSITIONS,
    DeploymentState,
    RunStatus,
    VersionStatus,
)


def test_every_status_has_its_transitions():
    assert set(VERSION_TRANSITIONS) == set(VersionStatus)
    assert set(RUN_TRANSITIONS) == set(RunStatus)
    assert set(DEPLOYMENT_TRANSITIONS) == set(DeploymentState)


def _reachable(transitions, start):
    seen, todo = {start}, [start]
    while todo:
        for nxt in transitions[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_every_version_status_is_reachable_from_submitted_and_ends_in_a_final_one():
    assert _reachable(VERSION_TRANSITIONS, VersionStatus.SUBMITTED) == set(VersionStatus)
    for status in VersionStatus:
        assert any(VERSION_TRANSITIONS[s] == frozenset() for s in _reachable(VERSION_TRANSITIONS, status))


def test_in_progress_and_final_partition_the_statuses_with_live_in_between():
    in_progress = {s for s in VersionStatus if s.in_progress}
    final = {s for s in VersionStatus if s.final}
    assert in_progress & final == set()
    assert set(VersionStatus) - in_progress - final == {VersionStatus.LIVE}
    assert VersionStatus.AWAITING_APPROVAL in in_progress and VersionStatus.SUPERSEDED in final


def test_statuses_compare_equal_to_their_text():
    assert VersionStatus("live") == "live" and RunStatus.INTERRUPTED == "interrupted" and f"{DeploymentState.PAUSED}" == "paused"
    assert not RunStatus.RUNNING.settled and RunStatus.INTERRUPTED.settled
