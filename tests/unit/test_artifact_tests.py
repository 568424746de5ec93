"""An artifact's own tests run with the pytest plugins it gets, not every plugin the worker has."""

from __future__ import annotations

from pathlib import Path

from activities.artifact_tests import plugin_modules, run_tests_blocking

TESTS = '''
import pytest


@pytest.mark.asyncio
async def test_async_tests_run():
    assert True


def test_the_worker_s_other_plugins_are_not_loaded(request):
    names = {name for name, _ in request.config.pluginmanager.list_name_plugin()}
    assert not names & {"langsmith_plugin", "hypothesispytest", "schemathesis", "xdist", "timeout"}, names


def test_a_declared_plugin_is_loaded(request):
    assert request.config.getoption("timeout") is None  # pytest-timeout's option: ValueError without it
'''


def _tree(root: Path) -> Path:
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "test_plugins.py").write_text(TESTS)
    return root


def test_plugins_are_the_async_ones_and_those_of_the_artifact_s_requirements():
    assert plugin_modules() == ["anyio.pytest_plugin", "pytest_asyncio.plugin"]
    assert "pytest_timeout" in plugin_modules(["pytest-timeout>=2", "not a requirement!"])
    assert plugin_modules(["Pytest_Timeout"]) == plugin_modules(["pytest-timeout"])  # names are normalised
    assert plugin_modules(["pandas"]) == plugin_modules()  # a requirement with no plugin adds none


def test_artifact_tests_get_async_and_declared_plugins_only(tmp_path):
    tree = _tree(tmp_path / "artifact")
    bare = run_tests_blocking(tree, timeout_s=120)
    assert bare.returncode == 1 and "1 failed, 2 passed" in bare.stdout, bare.stdout
    assert "test_a_declared_plugin_is_loaded" in bare.stdout and "no option named 'timeout'" in bare.stdout
    declared = run_tests_blocking(tree, timeout_s=120, requirements=["pytest-timeout"])
    assert declared.returncode == 0 and "3 passed" in declared.stdout, declared.stdout
