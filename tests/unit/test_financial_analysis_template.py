"""The financial_analysis template renders into a package whose generated tests pass."""

from __future__ import annotations

from pathlib import Path

import jinja2
import yaml

from activities.scaffold import run_generated_tests_blocking
from reference_agents.financial_analysis import AGENT


def render(template_dir: Path, out_dir: Path, context: dict) -> list[Path]:
    """Render every ``*.j2`` under ``template_dir`` (path segments are templates too)."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    written = []
    for src in sorted(template_dir.rglob("*.j2")):
        rel = env.from_string(str(src.relative_to(template_dir))).render(context)[: -len(".j2")]
        dst = out_dir / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text(env.from_string(src.read_text()).render(context))
        written.append(dst)
    return written


def test_template_renders_and_its_tests_pass(tmp_path):
    spec = yaml.safe_load(AGENT.spec_path.read_text())
    spec["config"] = {"signals": {"macd_cross_lookback_days": 3}}
    context = {"name": spec["name"], "package": "financial_analysis_agent", "version": 2,
               "template": spec["template"], "spec": spec, "config": spec["config"]}
    written = render(AGENT.template_dir, tmp_path, context)
    rels = {p.relative_to(tmp_path).as_posix() for p in written}
    assert {"financial_analysis_agent/__init__.py", "financial_analysis_agent/agent.py",
            "tests/test_financial_analysis_agent.py"} <= rels
    agent_src = (tmp_path / "financial_analysis_agent/agent.py").read_text()
    assert "CONFIG = {'signals': {'macd_cross_lookback_days': 3}}" in agent_src and "VERSION = 2" in agent_src

    proc = run_generated_tests_blocking(tmp_path)
    assert proc.returncode == 0, proc.stdout
    assert "6 passed" in proc.stdout
