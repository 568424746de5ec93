"""Running an artifact's own tests (``tests/``) against the tree as it will be packed, in a
subprocess with a timeout: the tree's python paths first on ``PYTHONPATH``, so the tests import the
artifact's code and not anything the worker has installed under the same names.

Pytest plugins are not auto-loaded from whatever the worker has installed
(``PYTEST_DISABLE_PLUGIN_AUTOLOAD``): the tests get the async plugins (pytest-asyncio, anyio's)
and the plugins of the distributions the artifact requires (a project's ``pytest-mock`` in its
requirements gives it ``mocker``), and any a ``conftest.py`` names in ``pytest_plugins``. So an
artifact's test outcome does not depend on the worker's other packages (langsmith's plugin, say,
which traces tests to LangSmith when configured), and a run starts in 0.3 s instead of 2.9 s with
every plugin of Shipway's test environment loaded (hypothesis, schemathesis, langsmith).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from activities.artifact_format import TestReport

NO_TESTS_COLLECTED = 5  # pytest's exit code when there is nothing to run
_TIMING = re.compile(r"\s+in\s+[0-9.]+s(\s+\([0-9:]+\))?")
# distributions whose pytest plugins every artifact's tests get, when installed: async tests
ALWAYS_PLUGINS = ("pytest-asyncio", "anyio")


def plugin_modules(requirements: Iterable[str] = ()) -> list[str]:
    """The modules (``-p`` names) of the installed pytest plugins (entry points ``pytest11``) of
    :data:`ALWAYS_PLUGINS` and of the distributions named in ``requirements`` (PEP 508 strings;
    unparsable ones are skipped: the build has refused them already), sorted."""
    wanted = {canonicalize_name(d) for d in ALWAYS_PLUGINS}
    for raw in requirements:
        try:
            wanted.add(canonicalize_name(Requirement(raw).name))
        except InvalidRequirement:
            continue
    return sorted({ep.module for ep in entry_points(group="pytest11") if canonicalize_name(ep.dist.name) in wanted})


def tests_command(tree: Path, python_paths: list[str], basetemp: str,
                  requirements: Iterable[str] = ()) -> tuple[list[str], dict[str, str]]:
    """argv and environment that run ``tree``'s tests from ``tree``, with plugin auto-loading off
    and the plugins of :func:`plugin_modules` (``requirements``: the artifact's) loaded.

    An own ``--basetemp``: pytest otherwise rotates the shared ``/tmp/pytest-of-<user>`` folders and
    may delete the temp dirs of another pytest session still running on this machine.
    """
    roots = [str((tree / p).resolve()) for p in python_paths]
    path = os.pathsep.join(p for p in (*roots, os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    plugins = [arg for module in plugin_modules(requirements) for arg in ("-p", module)]
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugins, f"--basetemp={basetemp}", "tests"], env


def report(exit_code: int, output: str) -> TestReport:
    """The report of one test run: exit code and pytest's last line without its timing
    (``"5 passed"``; ``"no tests"`` when the tree has none)."""
    if exit_code == NO_TESTS_COLLECTED:
        return TestReport(exit_code=exit_code, summary="no tests")
    last = output.strip().splitlines()[-1] if output.strip() else ""
    return TestReport(exit_code=exit_code, summary=_TIMING.sub("", last.strip("= ")))


def run_tests_blocking(tree: Path, python_paths: list[str] | None = None, timeout_s: float = 300.0,
                       requirements: Iterable[str] = ()) -> subprocess.CompletedProcess:
    """Run ``tree``'s tests as :func:`tests_command` does, blocking (template tests use it);
    ``stdout`` holds stdout and stderr.

    Raises:
        subprocess.TimeoutExpired: the tests ran longer than ``timeout_s`` seconds.
    """
    with tempfile.TemporaryDirectory(prefix="shipway-tests-") as basetemp:
        argv, env = tests_command(tree, python_paths or ["."], basetemp, requirements)
        return subprocess.run(argv, cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout_s)


async def run_tests(tree: Path, python_paths: list[str], timeout_s: float, beat: Callable[[str], None],
                    requirements: Iterable[str] = ()) -> tuple[int, str]:
    """Run ``tree``'s tests in a subprocess (:func:`tests_command`; ``requirements``: the artifact's),
    calling ``beat`` every 5 s; returns ``(exit code, output tail)``.

    Raises:
        TimeoutError: the tests ran longer than ``timeout_s`` seconds (the process is killed).
    """
    if not (tree / "tests").is_dir():
        return NO_TESTS_COLLECTED, "no tests folder"
    with tempfile.TemporaryDirectory(prefix="shipway-tests-") as basetemp:
        argv, env = tests_command(tree, python_paths, basetemp, requirements)
        proc = await asyncio.create_subprocess_exec(*argv, cwd=tree, env=env, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.STDOUT)
        communicate = asyncio.ensure_future(proc.communicate())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        try:
            while not (await asyncio.wait({communicate}, timeout=5))[0]:
                if loop.time() > deadline:
                    raise TimeoutError(f"the tests ran longer than {timeout_s:.0f} s")
                beat("running the artifact's tests")
        except BaseException:
            proc.kill()
            raise
        out, _ = communicate.result()
    return proc.returncode, out.decode(errors="replace")[-4000:]
