"""The portfolio-management template renders into a package whose generated tests pass."""

from pathlib import Path

import yaml

from activities.artifact_assembly import package_name, render_package
from activities.artifact_tests import run_tests_blocking
from reference_agents.portfolio_management import AGENT


def _render(tmp_path: Path, config: dict) -> Path:
    spec = yaml.safe_load(AGENT.spec_path.read_text())
    spec["config"] = config
    context = {"name": spec["name"], "package": package_name(spec["name"]), "version": 3,
               "template": spec["template"], "spec": spec, "config": config}
    files = render_package(AGENT.template_dir, tmp_path, context)
    assert {str(f) for f in files} >= {
        "portfolio_management_agent/__init__.py",
        "portfolio_management_agent/agent.py",
        "tests/test_portfolio_management_agent.py",
    }
    return tmp_path


def test_rendered_package_tests_pass(tmp_path):
    src = _render(tmp_path, {"risk_limits": {"max_var_95_1d_pct": 3.0}})
    agent_py = (src / "portfolio_management_agent" / "agent.py").read_text()
    assert "VERSION = 3" in agent_py and '"max_var_95_1d_pct": 3.0' in agent_py
    result = run_tests_blocking(src)
    assert result.returncode == 0, result.stdout[-5000:]
    assert "3 passed" in result.stdout and "skipped" not in result.stdout


def test_rendered_tests_fail_on_an_invalid_config(tmp_path):
    # a config naming an unknown policy section must fail the scaffold's tests, not pass silently
    src = _render(tmp_path, {"no_such_section": {}})
    result = run_tests_blocking(src)
    assert result.returncode != 0 and "unknown policy key(s) no_such_section" in result.stdout
