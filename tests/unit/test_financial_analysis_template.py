"""The financial_analysis template renders into a package whose generated tests pass."""

from __future__ import annotations

import yaml

from activities.artifact_assembly import render_package
from activities.artifact_tests import run_tests_blocking
from reference_agents.financial_analysis import AGENT


def test_template_renders_and_its_tests_pass(tmp_path):
    spec = yaml.safe_load(AGENT.spec_path.read_text())
    spec["config"] = {"signals": {"macd_cross_lookback_days": 3}}
    context = {"name": spec["name"], "package": "financial_analysis_agent", "version": 2,
               "template": spec["template"], "spec": spec, "config": spec["config"]}
    rels = {p.as_posix() for p in render_package(AGENT.template_dir, tmp_path, context)}
    assert {"financial_analysis_agent/__init__.py", "financial_analysis_agent/agent.py",
            "tests/test_financial_analysis_agent.py"} <= rels
    agent_src = (tmp_path / "financial_analysis_agent/agent.py").read_text()
    assert "CONFIG = {'signals': {'macd_cross_lookback_days': 3}}" in agent_src and "VERSION = 2" in agent_src

    proc = run_tests_blocking(tmp_path)
    assert proc.returncode == 0, proc.stdout
    assert "6 passed" in proc.stdout
