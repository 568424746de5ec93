"""The Runbooks page against Shipway's real runbook workflows and worker: an operator starts the
Connection-pool runbook from the form, sees its steps and findings, and confirms the step that waits
(the workflow terminates the connection found idle in a transaction, and records who and why); a
viewer sees runs and steps but no form and no buttons, and the actions refuse it too."""

from __future__ import annotations

import asyncio
import json
import re

import psycopg
import pytest

from console import actions
from console.identity import Identity, NotAllowed
from shipway import queries, runbook_control
from shipway.auth.roles import Role
from tests.console.conftest import open_page, run_app
from tests.support.runbooks import stored_until
from workflows.runbook_types import SIGNAL_CONFIRM, SIGNAL_SKIP, RunbookDecision
from workflows.statuses import Runbook, RunbookStatus, RunbookStepStatus

pytestmark = pytest.mark.asyncio(loop_scope="session")
REMEDIATION = "terminate idle-in-transaction backends"


def _awaiting(detail) -> bool:
    return any(s.name == REMEDIATION and s.status == RunbookStepStatus.AWAITING_CONFIRMATION for s in detail.steps)


def _ended(detail) -> bool:
    return detail.run.status in (RunbookStatus.COMPLETED, RunbookStatus.FAILED)


def _idle_in_transaction(url: str) -> psycopg.Connection:
    conn = psycopg.connect(url, application_name="runbooks-page-test")
    conn.execute("SELECT 1")  # a transaction left open
    return conn


def _frame(at, column: str, value):
    """The page's dataframe that has ``value`` in ``column``."""
    return next(d.value for d in at.dataframe if column in d.value.columns and (d.value[column] == value).any())


async def test_an_operator_starts_a_runbook_and_confirms_its_step_from_the_page(shipway_worker, db, console_env, console_role):
    console_role("operator")
    conn = _idle_in_transaction(console_env.resolved_database_url())
    pid = conn.info.backend_pid
    try:
        at = await open_page("views/runbooks.py", "olivia")
        at.selectbox(key="runbook_name").set_value(Runbook.CONNECTION_POOL)
        await run_app(at)
        assert any("idle-in-transaction" in c.value for c in at.caption)  # what the runbook does and its params
        at.text_area(key="runbook_params").input("idle_in_transaction_min_s=0\nlong_query_min_s=45")
        at.text_input(key="runbook_reason").input("pool near its limit")
        at.button(key="runbook_start").click()
        await run_app(at)
        assert not at.error, [e.value for e in at.error]
        [started] = at.success
        run_id = re.fullmatch(r"olivia started connection-pool: (runbook:connection-pool:\S+)\.", started.value).group(1)

        waiting = await stored_until(db, run_id, _awaiting)
        assert (waiting.run.started_by, waiting.run.reason) == ("olivia", "pool near its limit")
        assert waiting.run.params == {"idle_in_transaction_min_s": 0, "long_query_min_s": 45}

        await run_app(at)
        assert at.selectbox(key="runbook_pick").value == run_id
        assert (_frame(at, "id", run_id).set_index("id").loc[run_id, "status"]) == RunbookStatus.WAITING
        steps = _frame(at, "step", REMEDIATION).set_index("step")
        assert steps.loc["connections", "status"] == RunbookStepStatus.DONE
        assert steps.loc[REMEDIATION, "status"] == RunbookStepStatus.AWAITING_CONFIRMATION
        shown = [json.loads(j.value) for j in at.json]
        assert any(pid in [b["pid"] for b in j.get("idle_in_transaction", [])] for j in shown)  # the findings, as JSON
        assert [w.value for w in at.warning] == [f"Step **{REMEDIATION}** waits for a decision."]
        assert any(m.value.startswith("**Proposal:** pg_terminate_backend") and str(pid) in m.value for m in at.markdown)
        assert any(console_env.workflow_url(run_id) in m.value for m in at.markdown)

        key = f"{run_id}:2"
        at.button(key=f"confirm:{key}").click()  # no reason yet: refused by the page, nothing sent
        await run_app(at)
        assert [e.value for e in at.error] == [
            f"Give a reason to confirm step '{REMEDIATION}'; it is recorded with the step and in the audit log."]
        assert (await db.read(queries.runbook_run, run_id)).steps[1].decided_by is None

        at.text_input(key=f"decision_reason:{key}").input("idle since the 10:20 deploy")
        at.button(key=f"confirm:{key}").click()
        await run_app(at)
        assert not at.error, [e.value for e in at.error]
        [ok] = at.success
        assert ok.value.startswith(f"Confirm of step '{REMEDIATION}' by olivia recorded: the step is ")

        ended = await stored_until(db, run_id, _ended)
        step = ended.steps[1]
        assert (step.name, step.status, step.decided_by, step.reason) == (
            REMEDIATION, RunbookStepStatus.DONE, "olivia", "idle since the 10:20 deploy")
        assert pid in step.result["terminated"]
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")

        await run_app(at)
        assert "Report" in [h.value for h in at.subheader]
        actions_taken = next(d.value for d in at.dataframe if "proposal" in d.value.columns)  # the report's actions
        assert actions_taken.loc[0, "step"] == REMEDIATION and actions_taken.loc[0, "status"] == RunbookStepStatus.DONE
        assert not [b for b in at.button if b.key and b.key.startswith(("confirm:", "skip:"))]
    finally:
        conn.close()


async def test_a_viewer_sees_runs_and_steps_but_cannot_start_or_decide(shipway_worker, db, console_env, console_role):
    client = shipway_worker
    conn = _idle_in_transaction(console_env.resolved_database_url())
    started = await runbook_control.start(client, console_env, Runbook.CONNECTION_POOL,
                                          {"idle_in_transaction_min_s": 0}, "olivia", "seen by a viewer")
    run_id = started.workflow_id
    try:
        await stored_until(db, run_id, _awaiting)

        console_role("viewer")
        at = await open_page("views/runbooks.py", "victor")
        assert at.selectbox(key="runbook_pick").value == run_id
        steps = _frame(at, "step", REMEDIATION).set_index("step")
        assert steps.loc[REMEDIATION, "status"] == RunbookStepStatus.AWAITING_CONFIRMATION
        notices = [i.value for i in at.info]
        assert any("cannot start runbooks or confirm their steps" in n for n in notices)
        assert any("cannot confirm or skip runbook steps" in n for n in notices)
        keys = [b.key for b in at.button if b.key]
        assert not [k for k in keys if k.startswith(("confirm:", "skip:", "runbook_start"))], keys
        assert not [t for t in at.text_area if t.key == "runbook_params"]

        viewer = Identity(name="victor", role=Role.VIEWER, tenant=None, source="local")
        with pytest.raises(NotAllowed):
            await asyncio.to_thread(actions.decide_runbook, viewer, run_id, SIGNAL_CONFIRM, "let me")
        assert (await db.read(queries.runbook_run, run_id)).steps[1].decided_by is None
    finally:
        conn.close()
        # leave nothing waiting: skip the step, which ends the run
        await runbook_control.decide(client, run_id, SIGNAL_SKIP, RunbookDecision(by="olivia", reason="test over"))
