"""The Create agent wizard rendered by AppTest: each step names the fields it refuses and does not
advance; a valid template agent and an uploaded LangGraph project are submitted as the operator and
their lifecycles run on Shipway's real worker until they wait for approval."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from console import data
from shipway import control, queries
from tests.console.conftest import open_page, project_archive, run_app
from tests.support.lifecycle import APPROVER, OWNER, wait_for_step
from tests.support.projects import write_project
from workflows.statuses import ApprovalKind, LifecycleStep, VersionStatus
from workflows.types import lifecycle_workflow_id

OPERATOR = "dev.bot@bank.example"
DESCRIPTION = "Scores consumer credit applications against the lending policy."
INDICATOR = "1. Identity → 2. Behaviour → 3. Data and risk → 4. Rollout → 5. Review and submit"


def _texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def _step(at: AppTest) -> str:
    """The step indicator's line (the current step in bold, the ones done ticked)."""
    return next(m.value for m in at.markdown if "1. Identity" in m.value)


def _at_step(n: int) -> str:
    parts = INDICATOR.split(" → ")
    return " → ".join(f"**{p}**" if i == n - 1 else f"✓ {p}" if i < n - 1 else p for i, p in enumerate(parts))


async def _next(at: AppTest) -> AppTest:
    at.button(key="wizard_next").click()
    return await run_app(at)


async def _identity(at: AppTest, name: str, description: str = DESCRIPTION) -> None:
    at.text_input(key="wizard:name").input(name)
    at.text_input(key="wizard:owner").input(OWNER)
    at.text_area(key="wizard:description").input(description)
    await _next(at)
    assert _step(at) == _at_step(2), _texts(at.error)


async def _until_awaiting_approval(client, db, name: str, version: int) -> None:
    st = await wait_for_step(client, name, version, LifecycleStep.APPROVAL, timeout_s=300)
    assert st.status == VersionStatus.AWAITING_APPROVAL, st
    # the workflow enters the step before its activity records the status: wait for the row
    deadline = asyncio.get_running_loop().time() + 30
    while (status := await db.read(queries.version_status, name, version)) != VersionStatus.AWAITING_APPROVAL:
        assert asyncio.get_running_loop().time() < deadline, f"{name} v{version} stayed {status}"
        await asyncio.sleep(0.1)


async def _reject(client, name: str, version: int) -> None:
    await control.decide(client, name, version, ApprovalKind.REJECT, APPROVER, "created by a console test")
    assert (await control.wait_lifecycle(client, name, version)).status == VersionStatus.REJECTED


@pytest.mark.asyncio(loop_scope="session")
async def test_the_wizard_submits_a_template_agent_and_its_lifecycle_starts(shipway_worker, db, console_env):
    client = shipway_worker
    name = f"credit-{uuid.uuid4().hex[:8]}"
    at = await open_page("views/create_agent.py", OPERATOR)
    assert _step(at) == _at_step(1)
    assert at.button(key="wizard_back").disabled
    await _identity(at, name)

    template = at.selectbox(key="wizard:template")
    assert template.value is None and "Credit Underwriting (credit_underwriting)" in template.options
    template.set_value("credit_underwriting")
    at.text_input(key="wizard:model").input("openai:gpt-4o-mini")
    at.text_area(key="wizard:system_prompt").input("Follow the lending policy; refer borderline cases.")
    at.text_input(key="wizard:tools").input("score_applicant, lookup_policy")
    await _next(at)
    assert _step(at) == _at_step(3)
    assert [s.value for s in at.success] == ["No PII found in the description or system prompt."]

    at.radio(key="wizard:data_classification").set_value("confidential")
    await _next(at)
    at.selectbox(key="wizard:strategy").set_value("Canary10Percent5Minutes")
    await _next(at)
    assert _step(at) == _at_step(5)
    expected = {"name": name, "owner": OWNER, "description": DESCRIPTION, "template": "credit_underwriting",
                "model": "openai:gpt-4o-mini", "system_prompt": "Follow the lending policy; refer borderline cases.",
                "tools": ["score_applicant", "lookup_policy"], "data_classification": "confidential",
                "deployment": {"strategy": "Canary10Percent5Minutes", "target": "local"}}
    [review] = at.code
    assert review.language == "yaml" and yaml.safe_load(review.value) == expected
    assert f"Submitting starts version 1 of **{name}** as **{OPERATOR}**." in _texts(at.caption)

    at.button(key="wizard_submit").click()
    await run_app(at)
    assert not at.error
    workflow_id = lifecycle_workflow_id(name, 1)
    assert [s.value for s in at.success] == [
        f"Submitted {name} v1 as {OPERATOR}. Its lifecycle validates, guards and builds it, then waits for approval."]
    assert f"[Open the lifecycle workflow `{workflow_id}` in the Temporal UI]({console_env.workflow_url(workflow_id)})" in _texts(at.markdown)
    [approvals] = at.get("page_link")
    assert approvals.proto.page.endswith("approvals") and approvals.proto.label.startswith("Approvals")

    await _until_awaiting_approval(client, db, name, 1)  # its first activity records the version
    row = await db.read(queries.agent_version, name, 1)
    assert (row.submitted_by, row.workflow_id) == (OPERATOR, workflow_id)
    assert row.artifact_sha256  # built from the template
    stored = row.spec  # as the validate step normalised it
    assert {k: stored[k] for k in expected if k != "deployment"} == {k: v for k, v in expected.items() if k != "deployment"}
    assert stored["deployment"]["strategy"] == "Canary10Percent5Minutes"

    at.switch_page("views/approvals.py")
    await run_app(at)
    assert f"{name} v1" in [s.value for s in at.subheader]
    await _reject(client, name, 1)

    at.switch_page("views/create_agent.py")
    await run_app(at)
    at.button(key="wizard_again").click()
    await run_app(at)
    assert _step(at) == _at_step(1) and at.text_input(key="wizard:name").value == ""


def test_the_wizard_names_each_bad_field_and_submits_nothing(app):
    at = app("views/create_agent.py")
    assert not at.error  # an untouched form is not shown as wrong
    at.button(key="wizard_next").click().run()
    assert _step(at) == _at_step(1)
    assert [e.value.split(":")[0] for e in at.error] == ["`name`", "`owner`", "`description`"]

    at.text_input(key="wizard:name").input("Credit Desk")
    at.text_input(key="wizard:owner").input(OWNER)
    at.text_area(key="wizard:description").input("Scores")
    at.button(key="wizard_next").click().run()
    assert _step(at) == _at_step(1)
    assert [e.value for e in at.error] == [
        "`name`: must be 2-63 characters of lowercase letters, digits and '-', starting with a letter",
        "`description`: String should have at least 10 characters"]

    pii = "Escalations go to jane.doe@gmail.com, the underwriting desk."
    at.text_input(key="wizard:name").input("credit-desk")
    at.text_area(key="wizard:description").input(pii)
    at.button(key="wizard_next").click().run()
    assert _step(at) == _at_step(2) and not at.error

    at.selectbox(key="wizard:template").set_value("credit_underwriting")
    at.text_input(key="wizard:model").input("gpt-4o")
    at.run()
    # shown as soon as it is typed, and Next does not advance
    assert [e.value for e in at.error] == ["`model`: must be 'provider:model', e.g. 'openai:gpt-4o-mini'"]
    at.button(key="wizard_next").click().run()
    assert _step(at) == _at_step(2)

    at.text_input(key="wizard:model").input("openai:gpt-4o")
    at.button(key="wizard_next").click().run()
    assert _step(at) == _at_step(3)
    start = pii.index("jane.doe")
    [finding] = at.error
    assert finding.value.startswith(f"`description`: PII found: EMAIL_ADDRESS at characters {start}-{start + 18} ")
    assert not at.success
    at.button(key="wizard_next").click().run()
    assert _step(at) == _at_step(3)  # blocked, as the lifecycle's guard step would refuse it

    at.button(key="wizard_back").click().run()
    at.button(key="wizard_back").click().run()
    assert _step(at) == _at_step(1)
    assert (at.text_input(key="wizard:name").value, at.text_area(key="wizard:description").value) == ("credit-desk", pii)
    assert data.versions_frame().empty  # nothing reached the catalog
    assert not [b for b in at.button if b.key == "wizard_submit"]


def test_a_viewer_fills_in_and_reviews_the_wizard_but_gets_no_submit(app, console_role):
    console_role("viewer")
    at = app("views/create_agent.py")
    notice = "Your role **viewer** cannot submit agents (you may fill in and review the form); that takes the admin or operator role."
    assert [i.value for i in at.info] == [notice]
    at.text_input(key="wizard:name").input("credit-desk")
    at.text_input(key="wizard:owner").input(OWNER)
    at.text_area(key="wizard:description").input(DESCRIPTION)
    at.button(key="wizard_next").click().run()
    at.selectbox(key="wizard:template").set_value("credit_underwriting")
    for _ in range(3):
        at.button(key="wizard_next").click().run()
    assert _step(at) == _at_step(5), _texts(at.error)
    assert yaml.safe_load(at.code[0].value)["name"] == "credit-desk"  # the spec is there to review...
    assert [b.key for b in at.button] == ["wizard_back"]  # ...but only Back is offered
    assert "Submitting starts" not in _texts(at.caption)
    assert notice in _texts(at.info)


def test_the_rollout_step_offers_custom_steps_and_refuses_the_aws_target(app):
    at = app("views/create_agent.py")
    at.text_input(key="wizard:name").input("credit-desk")
    at.text_input(key="wizard:owner").input(OWNER)
    at.text_area(key="wizard:description").input(DESCRIPTION)
    at.button(key="wizard_next").click().run()
    at.selectbox(key="wizard:template").set_value("credit_underwriting")
    at.button(key="wizard_next").click().run()
    at.button(key="wizard_next").click().run()
    assert _step(at) == _at_step(4)
    assert "Canary10Percent5Minutes: 10% for 300 s, then 100%" in at.selectbox(key="wizard:strategy").options

    at.selectbox(key="wizard:strategy").set_value("Custom").run()
    [editor] = at.data_editor
    assert editor.value.to_dict("records") == [{"weight_pct": 10.0, "bake_s": 60.0}, {"weight_pct": 100.0, "bake_s": 0.0}]
    assert at.radio(key="wizard:target").options == ["local", "aws (not available yet)"]
    at.radio(key="wizard:target").set_value("aws")
    at.button(key="wizard_next").click().run()
    assert [e.value for e in at.error] == ["`deployment.target`: the aws target is not available yet; choose local"]
    assert _step(at) == _at_step(4)

    at.radio(key="wizard:target").set_value("local")
    at.button(key="wizard_next").click().run()
    assert _step(at) == _at_step(5)
    assert yaml.safe_load(at.code[0].value)["deployment"] == {
        "strategy": "Custom", "target": "local",
        "steps": [{"weight_pct": 10.0, "bake_s": 60.0}, {"weight_pct": 100.0, "bake_s": 0.0}]}


@pytest.mark.asyncio(loop_scope="session")
async def test_an_uploaded_project_is_checked_and_submitted_with_the_forms_values(shipway_worker, db, tmp_path):
    client = shipway_worker
    folder = tmp_path / "loan"
    governance = write_project(folder, label="console")
    governance["model"] = "openai:gpt-4o-mini"
    (folder / "shipway.yaml").write_text(yaml.safe_dump(governance))
    config = json.loads((folder / "langgraph.json").read_text())
    config["graphs"]["loan_copy"] = config["graphs"]["loan"]
    (folder / "langgraph.json").write_text(json.dumps(config))
    name = f"loan-console-{uuid.uuid4().hex[:8]}"

    at = await open_page("views/create_agent.py", OPERATOR)
    await _identity(at, name, "A loan graph submitted from the console.")
    at.radio(key="wizard:code").set_value("project")
    await run_app(at)
    await _next(at)
    assert _step(at) == _at_step(2)
    assert [e.value for e in at.error] == ["`source`: upload a LangGraph project archive (.tar.gz or .tgz)"]

    at.file_uploader(key="wizard:upload").upload("loan.tar.gz", project_archive(folder, top="loan"), "application/gzip")
    await run_app(at)
    graph = at.selectbox(key="wizard:graph")
    assert graph.options == ["loan", "loan_copy"] and graph.value is None
    assert [e.value for e in at.error] == ["`source: graph`: the project has several graphs (loan, loan_copy): choose one"]
    graph.set_value("loan_copy")
    await run_app(at)
    assert not at.error
    [checked] = at.success
    assert checked.value.startswith("Checked `loan.tar.gz`: graph **loan_copy** (of loan, loan_copy)")
    assert at.text_input(key="wizard:model").value == "openai:gpt-4o-mini"  # pre-filled from shipway.yaml

    for _ in range(3):
        await _next(at)
    assert _step(at) == _at_step(5), _texts(at.error)
    spec = yaml.safe_load(at.code[0].value)
    assert (spec["name"], spec["description"], spec["source"]["graph"], spec["model"]) == (
        name, "A loan graph submitted from the console.", "loan_copy", "openai:gpt-4o-mini")
    captions = _texts(at.caption)
    assert f"The form's `name` replaces shipway.yaml's: `{governance['name']}` → `{name}`." in captions
    assert "The form's `description` replaces shipway.yaml's" in captions

    at.button(key="wizard_submit").click()
    await run_app(at)
    assert not at.error and at.success[0].value.startswith(f"Submitted {name} v1 as {OPERATOR}.")
    await _until_awaiting_approval(client, db, name, 1)
    row = await db.read(queries.agent_version, name, 1)
    assert row.spec["source"] == spec["source"] and row.spec["description"] == "A loan graph submitted from the console."
    assert (row.manifest["source"], row.manifest["graph_name"]) == ("langgraph", "loan_copy")  # built from the uploaded archive
    await _reject(client, name, 1)
