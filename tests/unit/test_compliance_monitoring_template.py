"""The compliance_monitoring template renders into a package whose generated tests pass."""

from __future__ import annotations

import yaml

from activities.artifact_assembly import render_package
from activities.artifact_tests import run_tests_blocking
from reference_agents.compliance_monitoring import AGENT


def test_template_renders_and_its_tests_pass(tmp_path):
    spec = yaml.safe_load(AGENT.spec_path.read_text())
    spec["config"] = {"screening": {"max_candidates": 3}}
    context = {"name": spec["name"], "package": "compliance_monitoring_agent", "version": 3,
               "template": spec["template"], "spec": spec, "config": spec["config"]}
    rels = {p.as_posix() for p in render_package(AGENT.template_dir, tmp_path, context)}
    assert {"compliance_monitoring_agent/__init__.py", "compliance_monitoring_agent/agent.py",
            "tests/test_compliance_monitoring_agent.py"} <= rels
    agent_src = (tmp_path / "compliance_monitoring_agent/agent.py").read_text()
    assert "CONFIG = {'screening': {'max_candidates': 3}}" in agent_src and "VERSION = 3" in agent_src

    proc = run_tests_blocking(tmp_path)
    assert proc.returncode == 0, proc.stdout
    assert "6 passed" in proc.stdout
