"""The Runs page against Shipway's real run workflow and worker: the worker's checkpoints, the
answer form of a real interrupted counting run (checked against the request's schema before
anything is sent), the resume recorded under the operator's name, and the workflow's refusal."""

from __future__ import annotations

import pytest

from shipway import control, queries
from tests.console.conftest import open_page, run_app
from tests.support.lifecycle import deploy_counting
from workflows.statuses import RunStatus
from workflows.types import RunResult, run_workflow_id

pytestmark = pytest.mark.asyncio(loop_scope="session")

OPERATOR = "uma.underwriter@bank.example"


async def _interrupted_run(client, db, log) -> str:
    name = await deploy_counting(client, db)
    run_id, result = await control.start_run(client, name, await control.pick_version(db, name),
                                             {"log_path": str(log), "ask": True}, wait=True)
    assert result.status == RunStatus.INTERRUPTED and result.interrupt["decisions"] == ["yes", "no"], result
    return run_id


async def _resumes(db, run_id: str) -> list:
    return await db.read(queries.audit_events, f"run:{run_id}", "run.resum")


async def test_the_form_checks_the_answer_then_resumes_the_run_as_the_operator(shipway_worker, db, tmp_path):
    client = shipway_worker
    log = tmp_path / "visits.log"
    run_id = await _interrupted_run(client, db, log)

    at = await open_page("views/runs.py", OPERATOR, run_id)
    assert at.selectbox(key="run_pick").value == run_id
    frames = [d.value for d in at.dataframe]
    history = next(f for f in frames if "writes" in f.columns)  # written by the worker's AsyncPostgresSaver
    assert history["next"].iloc[0] == "b" and "__interrupt__" in history["writes"].iloc[0]
    guards = next(f for f in frames if "verdict" in f.columns and "stage" in f.columns and "detail" in f.columns)
    assert guards[["stage", "verdict"]].values.tolist() == [["input", "pass"]]  # the run's own guard verdicts
    assert "**Continue to node c?**" in "\n".join(m.value for m in at.markdown)
    assert at.text_input(key=f"answer:{run_id}:reviewer").value == ""

    at.button(key=f"decide:{run_id}:yes").click()  # no reviewer yet
    await run_app(at)
    assert [e.value for e in at.error] == ["Reviewer (`reviewer`): required"]
    assert not at.success and await _resumes(db, run_id) == []
    assert (await db.read(queries.run, run_id)).status == RunStatus.INTERRUPTED

    at.text_input(key=f"answer:{run_id}:reviewer").input("uma")
    at.text_input(key=f"answer:{run_id}:note").input("checked the visits")
    at.button(key=f"decide:{run_id}:yes").click()
    await run_app(at)
    assert not at.error
    assert [s.value for s in at.success] == [f"Run {run_id} resumed by {OPERATOR} with 'yes'; the workflow continues."]

    result = await client.get_workflow_handle(run_workflow_id(run_id), result_type=RunResult).result()
    answer = {"decision": "yes", "reviewer": "uma", "note": "checked the visits"}
    assert result.status == RunStatus.SUCCEEDED and result.output["answer"] == answer
    [event] = await _resumes(db, run_id)  # one resume: the answer without a reviewer never left the console
    assert (event.action, event.actor, event.detail["value"]) == ("run.resumed", OPERATOR, answer)
    assert log.read_text().split() == ["a", "b", "c"]  # b ran to completion once, after the resume


async def test_answering_a_run_that_no_longer_waits_shows_the_refusal(shipway_worker, db, tmp_path):
    client = shipway_worker
    run_id = await _interrupted_run(client, db, tmp_path / "visits.log")
    at = await open_page("views/runs.py", OPERATOR, run_id)
    at.text_input(key=f"answer:{run_id}:reviewer").input("uma")

    # Closed behind the console's back (e.g. terminated in the Temporal UI): its row still says interrupted.
    await client.get_workflow_handle(run_workflow_id(run_id)).terminate("closed by an operator")
    at.button(key=f"decide:{run_id}:no").click()
    await run_app(at)
    assert [e.value for e in at.error] == ["Resume refused: run has finished; it is not waiting for input"]
    assert not at.success and await _resumes(db, run_id) == []
