"""``ThreadWorkflow`` (id ``thread:{thread_id}``, task queue ``shipway-agents``): make a thread
before its first run (the LangGraph Platform API's ``POST /threads``).

One local activity writes the row (:mod:`activities.runs`, the only writer of ``threads``), so the
gateway, whose database role only reads, changes nothing itself, and the making is in Temporal's
history like every other change.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from workflows.types import CREATE_THREAD, THREAD_WORKFLOW, ThreadCreate, ThreadCreateResult


@workflow.defn(name=THREAD_WORKFLOW)
class ThreadWorkflow:
    """Makes one thread; returns whether it was made, or why not."""

    @workflow.run
    async def run(self, inp: ThreadCreate) -> ThreadCreateResult:
        return await workflow.execute_local_activity(CREATE_THREAD, inp, result_type=ThreadCreateResult,
                                                     start_to_close_timeout=timedelta(seconds=30))
