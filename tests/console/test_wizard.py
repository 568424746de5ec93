"""The creation wizard's spec building and per-step checks (``console/wizard.py``), without Streamlit.
The project checks store real archives in the console database's artifact store."""

from __future__ import annotations

import json

import pytest
import yaml

from activities.artifact_format import read_files
from activities.artifact_store import store_from_settings
from activities.langgraph_project import ProjectError
from console import wizard
from console.wizard import BEHAVIOUR, DATA_AND_RISK, IDENTITY, REVIEW, ROLLOUT, Draft, FieldError
from shipway.spec import parse_spec
from tests.console.conftest import project_archive
from tests.support.projects import write_project

DESCRIPTION = "Scores consumer credit applications against the lending policy."


def _template_draft(**overrides) -> Draft:
    values = dict(name="credit-desk", owner="olivia.owner@bank.example", description=DESCRIPTION, template="credit_underwriting",
                  model="openai:gpt-4o-mini", system_prompt="Follow the lending policy.", tools=" score, , lookup_policy ",
                  data_classification="confidential")
    values.update(overrides)
    return Draft(**values)


def _fields(errors: list[FieldError]) -> list[str]:
    return [e.field for e in errors]


def test_a_template_form_makes_the_spec_the_lifecycle_accepts():
    draft = _template_draft()
    spec = wizard.build_spec(draft)
    assert spec == {"name": "credit-desk", "owner": "olivia.owner@bank.example", "description": DESCRIPTION,
                    "template": "credit_underwriting", "model": "openai:gpt-4o-mini", "system_prompt": "Follow the lending policy.",
                    "tools": ["score", "lookup_policy"], "data_classification": "confidential",
                    "deployment": {"strategy": "AllAtOnce", "target": "local"}}
    assert parse_spec(spec).template == "credit_underwriting"
    assert all(wizard.step_errors(draft, step) == [] for step in range(len(wizard.STEPS)))
    assert yaml.safe_load(wizard.spec_yaml(draft)) == spec
    assert wizard.build_spec(_template_draft(model="  "))["model"] is None  # empty model: the agent runs without one


def test_each_step_judges_only_its_own_fields():
    empty = Draft()
    assert _fields(wizard.step_errors(empty, IDENTITY)) == ["name", "owner", "description"]
    # no "give exactly one of template and source": the missing choice says it
    assert wizard.step_errors(empty, BEHAVIOUR) == [FieldError("template", "choose a template")]
    assert wizard.step_errors(empty, DATA_AND_RISK) == []
    assert wizard.step_errors(empty, ROLLOUT) == []
    assert _fields(wizard.step_errors(empty, REVIEW)) == ["name", "owner", "description", "template"]


def test_bad_values_are_reported_on_their_field_with_the_specs_message():
    draft = _template_draft(name="Credit Desk", description="Scores", model="gpt-4o")
    assert [str(e) for e in wizard.step_errors(draft, IDENTITY)] == [
        "name: must be 2-63 characters of lowercase letters, digits and '-', starting with a letter",
        "description: String should have at least 10 characters",
    ]
    assert [str(e) for e in wizard.step_errors(draft, BEHAVIOUR)] == ["model: must be 'provider:model', e.g. 'openai:gpt-4o-mini'"]
    assert wizard.step_errors(_template_draft(template="no_such_template"), BEHAVIOUR) == [
        FieldError("template", "'no_such_template' is not a template installed here")]


def test_pii_in_the_description_or_system_prompt_blocks_the_data_and_risk_step():
    description = "Escalations go to jane.doe@gmail.com, the underwriting desk."
    prompt = "Never repeat card 4111 1111 1111 1111."
    draft = _template_draft(description=description, system_prompt=prompt)
    assert wizard.step_errors(draft, IDENTITY) == []  # the description itself is well-formed
    errors = wizard.step_errors(draft, DATA_AND_RISK)
    assert _fields(errors) == ["description", "system_prompt"]
    start = description.index("jane.doe")
    assert errors[0].message.startswith(f"PII found: EMAIL_ADDRESS at characters {start}-{start + len('jane.doe@gmail.com')} ")
    start = prompt.index("4111")
    assert errors[1].message.startswith(f"PII found: CREDIT_CARD at characters {start}-{start + 19} ")
    assert _fields(wizard.step_errors(draft, REVIEW)) == ["description", "system_prompt"]


def test_custom_rollout_steps_follow_the_deployment_rules_and_aws_is_not_available():
    rows = [{"weight_pct": 25, "bake_s": 30}, {"weight_pct": float("nan"), "bake_s": float("nan")},  # an added, empty row
            {"weight_pct": 100, "bake_s": None}]
    steps = wizard.custom_steps(rows)
    assert steps == [{"weight_pct": 25.0, "bake_s": 30.0}, {"weight_pct": 100.0, "bake_s": 0.0}]
    draft = _template_draft(strategy="Custom", steps=steps)
    assert wizard.build_spec(draft)["deployment"] == {"strategy": "Custom", "target": "local", "steps": steps}
    assert wizard.step_errors(draft, ROLLOUT) == []

    short = _template_draft(strategy="Custom", steps=[{"weight_pct": 50.0, "bake_s": 10.0}])
    assert [str(e) for e in wizard.step_errors(short, ROLLOUT)] == ["deployment: custom deployment steps must end at weight_pct 100"]
    assert wizard.step_errors(short, IDENTITY) == []  # a later step's field is not judged earlier
    assert wizard.build_spec(_template_draft(steps=[]))["deployment"] == {"strategy": "AllAtOnce", "target": "local"}
    assert [str(e) for e in wizard.step_errors(_template_draft(target="aws"), ROLLOUT)] == [
        "deployment.target: the aws target is not available yet; choose local"]
    assert wizard.strategy_summary("Canary10Percent5Minutes") == "10% for 300 s, then 100%"


def test_a_checked_project_prefills_the_form_and_the_forms_values_win(console_env, tmp_path):
    folder = tmp_path / "loan"
    governance = write_project(folder, label="one")
    governance.update(model="openai:gpt-4o-mini", tools=["lookup"], deployment={"strategy": "Canary10Percent5Minutes"})
    (folder / "shipway.yaml").write_text(yaml.safe_dump(governance))
    store = store_from_settings(console_env)

    upload = wizard.check_project(store, "loan.tar.gz", project_archive(folder, top="loan"))
    assert (upload.filename, upload.graph, upload.graphs, upload.governance) == ("loan.tar.gz", "loan", ("loan",), governance)
    assert set(read_files(store.get(upload.archive_sha256))) == {
        "langgraph.json", "shipway.yaml", "loan_agent/__init__.py", "loan_agent/graph.py", "loan_agent/state.py", "tests/test_graph.py"}

    draft = Draft(name="loan-desk", owner="uma@bank.example", description="Loan graph submitted from the console.",
                  code=wizard.PROJECT, system_prompt="typed before the upload")
    assert draft.use_project(upload) == ["model", "tools", "strategy"]  # the typed prompt is kept
    spec = wizard.build_spec(draft)
    assert spec == {"name": "loan-desk", "owner": "uma@bank.example", "description": "Loan graph submitted from the console.",
                    "source": {"archive_sha256": upload.archive_sha256, "graph": "loan"}, "model": "openai:gpt-4o-mini",
                    "system_prompt": "typed before the upload", "tools": ["lookup"], "data_classification": "internal",
                    "deployment": {"strategy": "Canary10Percent5Minutes", "target": "local"}}
    assert all(wizard.step_errors(draft, step) == [] for step in range(len(wizard.STEPS)))
    assert wizard.overridden(draft) == [("name", governance["name"], "loan-desk"), ("owner", governance["owner"], "uma@bank.example"),
                                        ("description", governance["description"], "Loan graph submitted from the console.")]

    draft.model = ""  # clearing a pre-filled input clears the field: the form wins
    assert wizard.build_spec(draft)["model"] is None


def test_a_project_with_several_graphs_needs_a_choice(console_env, tmp_path):
    folder = tmp_path / "loan"
    write_project(folder)
    config = json.loads((folder / "langgraph.json").read_text())
    config["graphs"]["loan_copy"] = config["graphs"]["loan"]
    (folder / "langgraph.json").write_text(json.dumps(config))
    data = project_archive(folder)
    store = store_from_settings(console_env)

    assert wizard.archive_graphs(data) == ["loan", "loan_copy"]
    with pytest.raises(ProjectError) as exc:
        wizard.check_project(store, "loan.tgz", data)
    assert exc.value.errors == [("graph", "the project has several graphs (loan, loan_copy): choose one")]
    upload = wizard.check_project(store, "loan.tgz", data, "loan_copy")
    assert (upload.graph, upload.graphs) == ("loan_copy", ("loan", "loan_copy"))


def test_a_broken_upload_is_refused_naming_the_problem(console_env, tmp_path):
    folder = tmp_path / "loan"
    write_project(folder)
    (folder / "loan_agent" / "graph.py").unlink()
    store = store_from_settings(console_env)
    with pytest.raises(ProjectError) as exc:
        wizard.check_project(store, "loan.tar.gz", project_archive(folder))
    assert exc.value.errors == [("langgraph.json graphs.loan", "file './loan_agent/graph.py' does not exist")]

    draft = Draft(code=wizard.PROJECT)
    draft.refuse_project(exc.value.errors)
    assert wizard.step_errors(draft, BEHAVIOUR) == [
        FieldError("source: langgraph.json graphs.loan", "file './loan_agent/graph.py' does not exist")]
    assert draft.touched("source")  # shown at once, before Next is pressed

    with pytest.raises(ProjectError) as exc:
        wizard.check_project(store, "loan.zip", b"PK")
    assert exc.value.errors == [("archive", "'loan.zip' is not a .tar.gz or .tgz archive of a LangGraph project")]
    with pytest.raises(ProjectError) as exc:
        wizard.check_project(store, "loan.tar.gz", b"not an archive")
    [(where, message)] = exc.value.errors
    assert where == "loan.tar.gz" and "not a readable .tar.gz archive" in message
    assert wizard.archive_graphs(b"not an archive") == []
    assert wizard.step_errors(Draft(code=wizard.PROJECT), BEHAVIOUR) == [
        FieldError("source", "upload a LangGraph project archive (.tar.gz or .tgz)")]
