"""The DAG -> code mapping template renders into a package whose generated tests pass, and its
spec, demo inputs and demo reviewer fit the platform."""

from pathlib import Path

import yaml

from activities.artifact_assembly import package_name, render_package
from activities.artifact_tests import run_tests_blocking
from reference_agents.dag_mapping import AGENT
from reference_agents.dag_mapping.demo import DEMO_QUERIES, accuracy, analysis_id
from reference_agents.dag_mapping.ground_truth.build import ground_truth
from reference_agents.registry import available_templates, get_agent
from shipway.spec import AgentSpec


def test_registered_as_a_builtin_template_with_a_valid_spec():
    assert "dag_mapping" in available_templates() and get_agent("dag_mapping") is AGENT
    spec = AgentSpec.model_validate(yaml.safe_load(AGENT.spec_path.read_text()))
    assert spec.template == "dag_mapping" and spec.durability == "async"


def test_rendered_package_tests_pass(tmp_path: Path):
    spec = yaml.safe_load(AGENT.spec_path.read_text())
    config = {"index_ttl_seconds": 600}
    context = {"name": spec["name"], "package": package_name(spec["name"]), "version": 2,
               "template": spec["template"], "spec": spec, "config": config}
    files = {str(f) for f in render_package(AGENT.template_dir, tmp_path, context)}
    package = package_name(spec["name"])
    assert files >= {f"{package}/__init__.py", f"{package}/agent.py", f"tests/test_{package}.py"}
    assert '"index_ttl_seconds": 600' in (tmp_path / package / "agent.py").read_text()
    result = run_tests_blocking(tmp_path)
    assert result.returncode == 0, result.stdout[-5000:]
    assert "3 passed" in result.stdout and "skipped" not in result.stdout


def test_demo_inputs_are_real_plans_and_the_reviewer_answers_every_listed_node():
    inputs = AGENT.sample_inputs(len(DEMO_QUERIES) + 1)
    assert [i["analysis_id"] for i in inputs] == [analysis_id(q) for q in (*DEMO_QUERIES, DEMO_QUERIES[0])]
    job = AGENT.input_model.model_validate(inputs[0])
    assert job.plan_format == "duckdb_json" and (Path(job.repository) / "h" / "test_queries.py").is_file()
    request = {"context": {"nodes": [
        {"node_id": "n1", "candidates": [{"score": 0.9}]},
        {"node_id": "n2", "candidates": [{"score": 0.1}]},
        {"node_id": "n3", "candidates": []},
    ]}}
    answer = AGENT.resume_value(request, inputs[0])
    assert answer["nodes"] == {"n1": {"action": "accept", "candidate": 0}, "n2": {"action": "reject"},
                               "n3": {"action": "reject"}}


def test_accuracy_counts_a_line_hit_only_on_the_right_function_and_overlapping_lines():
    truth = next(g for g in ground_truth("h") if g.query_id == 6)
    node_id, t = next(iter(truth.truth.items()))
    right = {"node_id": node_id, "path": t.path, "symbol": t.symbol, "start_line": t.start_line, "end_line": t.end_line}
    wrong_lines = {**right, "start_line": t.end_line + 50, "end_line": t.end_line + 60}
    wrong_symbol = {**right, "symbol": "test_01"}
    score = lambda m: accuracy([{"analysis_id": analysis_id(6), "mappings": [m]}])  # noqa: E731
    assert score(right) == {"nodes": 1, "symbol": 1.0, "line": 1.0}
    assert score(wrong_lines) == {"nodes": 1, "symbol": 1.0, "line": 0.0}
    assert score(wrong_symbol) == {"nodes": 1, "symbol": 0.0, "line": 0.0}
    assert accuracy([{"analysis_id": "other", "mappings": [right]}])["nodes"] == 0
