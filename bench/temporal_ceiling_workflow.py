"""The empty run of :mod:`bench.temporal_ceiling`: a workflow that only starts and ends.

It has the shape of Shipway's run workflow without any of its work: started with update-with-start,
the caller waits in an update (``settled``) that returns once the workflow has its result, and the
workflow optionally passes its 2 KB payload through ``local_activities`` no-op local activities
(Shipway's run has five: start, input guard, graph step, output check, record).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow


@dataclass
class EmptyRunInput:
    """``payload``: passed through and returned; ``local_activities``: no-op local activities to run."""

    payload: str
    local_activities: int = 0


@activity.defn
async def echo(payload: str) -> str:
    """Returns ``payload``: the cheapest activity there is."""
    return payload


@workflow.defn
class EmptyRunWorkflow:
    """Returns its payload after ``local_activities`` no-op local activities."""

    def __init__(self) -> None:
        self._result: str | None = None

    @workflow.run
    async def run(self, inp: EmptyRunInput) -> str:
        payload = inp.payload
        for _ in range(inp.local_activities):
            payload = await workflow.execute_local_activity(echo, payload, start_to_close_timeout=timedelta(seconds=5))
        self._result = payload
        return payload

    @workflow.update
    async def settled(self) -> str:
        """Waits for the run's result, as Shipway's ``wait_settled`` update does."""
        await workflow.wait_condition(lambda: self._result is not None)
        assert self._result is not None
        return self._result
