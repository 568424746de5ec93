"""The fraud_detection scaffolding template renders into a package whose generated tests pass."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml

from activities.artifact_assembly import package_name, render_package
from activities.artifact_tests import run_tests_blocking
from reference_agents.fraud_detection import AGENT


def render(tmp_path, spec: dict, version: int = 3) -> None:
    """Render as the lifecycle's scaffold step does."""
    context = {
        "name": spec["name"],
        "package": package_name(spec["name"]),
        "version": version,
        "template": spec["template"],
        "spec": spec,
        "config": spec["config"],
    }
    render_package(AGENT.template_dir, tmp_path, context)


def test_rendered_package_builds_and_its_tests_pass(tmp_path):
    spec = yaml.safe_load(AGENT.spec_path.read_text(encoding="utf-8"))
    spec["config"] = {"triage": {"block_min_score": 75, "analyst_review_min_score": 80}}
    render(tmp_path, spec)
    agent_py = tmp_path / "fraud_detection_agent" / "agent.py"
    assert "VERSION = 3" in agent_py.read_text()
    result = run_tests_blocking(tmp_path)
    assert result.returncode == 0, result.stdout
    assert "3 passed" in result.stdout
    # The rendered CONFIG is the spec's, so the generated package applies its overrides.
    probe = subprocess.run(
        [sys.executable, "-c", "import json, fraud_detection_agent.agent as a; print(json.dumps(a.CONFIG))"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)}, capture_output=True, text=True, timeout=60,
    )
    assert json.loads(probe.stdout) == spec["config"]


def test_generated_tests_fail_on_a_broken_agent(tmp_path):
    spec = yaml.safe_load(AGENT.spec_path.read_text(encoding="utf-8"))
    render(tmp_path, spec)
    agent_py = tmp_path / "fraud_detection_agent" / "agent.py"
    # An agent that never asks an analyst must fail the generated interrupt test.
    never_review = "build_graph({'triage': {'analyst_review_min_score': 100}})"
    agent_py.write_text(agent_py.read_text().replace("build_graph(CONFIG)", never_review))
    result = run_tests_blocking(tmp_path)
    assert result.returncode != 0
