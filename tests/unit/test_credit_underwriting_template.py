"""The credit-underwriting template renders a package whose generated tests pass."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from activities.artifact_assembly import package_name, render_package
from activities.artifact_tests import run_tests_blocking
from reference_agents.credit_underwriting import AGENT


def _render(tmp_path: Path, config: dict) -> tuple[Path, str]:
    spec = yaml.safe_load(AGENT.spec_path.read_text())
    spec["config"] = config
    package = package_name(spec["name"])
    context = {"name": spec["name"], "package": package, "version": 3, "template": spec["template"],
               "spec": spec, "config": spec["config"]}
    render_package(AGENT.template_dir, tmp_path, context)
    return tmp_path, package


def test_rendered_package_tests_pass(tmp_path):
    rendered, package = _render(tmp_path, {})
    assert {p.relative_to(rendered).as_posix() for p in rendered.rglob("*.py")} == {
        f"{package}/__init__.py", f"{package}/agent.py", f"tests/test_{package}.py"}
    result = run_tests_blocking(rendered)
    assert result.returncode == 0, result.stdout[-5000:]
    assert "3 passed" in result.stdout


def test_rendered_config_reaches_the_graph(tmp_path):
    # A quote and markup in a config value must survive rendering into Python source.
    config = {"thresholds": {"pd_decline_cutoff_pct": 0.5}, "version": "it's <v2> \"strict\""}
    rendered, package = _render(tmp_path, config)
    code = (f"from {package} import CONFIG, VERSION, AGENT_NAME, build\n"
            "from reference_agents.credit_underwriting import AGENT\n"
            "from langgraph.checkpoint.memory import InMemorySaver\n"
            "g = build(InMemorySaver())\n"
            "s = g.invoke(AGENT.sample_inputs(1)[0], {'configurable': {'thread_id': 't'}})\n"
            "out = AGENT.output(s)\n"
            "print(AGENT_NAME, VERSION, out['reasons'][0], out['policy_version'], CONFIG == %r)" % config)
    result = subprocess.run([sys.executable, "-c", code], cwd=rendered, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(rendered)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["credit-underwriting", "3", "PD_ABOVE_DECLINE_CUTOFF", *"it's <v2> \"strict\"".split(), "True"]
