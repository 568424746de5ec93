"""Webhook failures: the Jira webhook deliveries kept as dead letters (verified, but their workflow
could not be signalled), refused deliveries (forged, unsigned) and outcomes over ``since_s``
(param, default 86400). Remediation (after ``confirm``): re-drive the dead letters from their stored
bodies, then count again."""

from __future__ import annotations

from temporalio import workflow

from workflows.diagnostics_types import (
    REPLAY_DEAD_LETTERS,
    WEBHOOK_FAILURES,
    ReplayDeadLetters,
    ReplayedDeadLetters,
    WebhookFailuresCheck,
    WebhookFailuresReport,
)
from workflows.runbook_types import RUNBOOK_WORKFLOWS, RunbookInput, RunbookState
from workflows.runbooks.base import DIAGNOSTIC, RunbookBase
from workflows.statuses import Runbook


@workflow.defn(name=RUNBOOK_WORKFLOWS[Runbook.WEBHOOK_FAILURES])
class WebhookFailuresRunbook(RunbookBase):
    """Count dead letters; replay them once confirmed."""

    RUNBOOK = Runbook.WEBHOOK_FAILURES

    @workflow.run
    async def run(self, inp: RunbookInput) -> RunbookState:
        await self.begin(inp)
        check = WebhookFailuresCheck(since_s=float(inp.params.get("since_s", 86400.0)))
        before = await self.diagnose("dead letters", WEBHOOK_FAILURES, check, WebhookFailuresReport)
        if before is None:
            return await self.finish("could not read the webhook deliveries")
        if not before.dead_letters:
            await self.not_needed("replay dead letters", "no dead letter")
            return await self.finish(f"no dead letter; {before.forged_or_unsigned} forged or unsigned deliveries in the window")
        replayed = await self.remediate_with(
            "replay dead letters", f"re-drive {before.dead_letters} dead letter(s): ids {before.dead_letter_ids}",
            lambda: workflow.execute_activity(  # the replay's audit events name who confirmed it
                REPLAY_DEAD_LETTERS, ReplayDeadLetters(delivery_ids=before.dead_letter_ids, actor=self._state.steps[-1].decided_by),
                result_type=ReplayedDeadLetters, **DIAGNOSTIC))
        after = await self.diagnose("dead letters after", WEBHOOK_FAILURES, check, WebhookFailuresReport)
        outcomes: dict[str, int] = {}
        for r in replayed.results if replayed else []:
            outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
        return await self.finish(f"{before.dead_letters} dead letter(s); replayed: {outcomes or 'none'}"
                                 + (f"; {after.dead_letters} left" if after else ""))
