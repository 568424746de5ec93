"""Lifecycle step ``scaffold``: render an agent's code package from its Jinja2 template, run the
package's generated tests, and store the artifact (a reproducible ``.tar.gz``) with its SHA-256."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from jinja2 import Environment, StrictUndefined
from temporalio import activity
from temporalio.exceptions import ApplicationError

from reference_agents.registry import get_agent
from shipway.settings import get_settings
from workflows.types import SCAFFOLD_AGENT, ScaffoldInput, ScaffoldResult

TEST_TIMEOUT_S = 300


def package_name(agent_name: str) -> str:
    """Python identifier for an agent's package: ``credit-underwriting`` -> ``credit_underwriting_agent``."""
    return re.sub(r"[^0-9a-zA-Z_]", "_", agent_name) + "_agent"


def render_package(template_dir: Path, dest: Path, context: dict) -> list[Path]:
    """Render every ``*.j2`` under ``template_dir`` (paths are templates too) into ``dest``.

    Returns:
        the written files, relative to ``dest``.

    Raises:
        jinja2.UndefinedError: the template uses a name the context lacks.
    """
    env = Environment(undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False)
    written = []
    for src in sorted(template_dir.rglob("*.j2")):
        rel = env.from_string(str(src.relative_to(template_dir))[: -len(".j2")]).render(context)
        out = dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(env.from_string(src.read_text()).render(context))
        written.append(Path(rel))
    return written


def reproducible_tarball(src: Path) -> bytes:
    """``.tar.gz`` bytes of ``src`` with sorted entries, zeroed times and owners, so equal trees hash equal."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(p for p in src.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            info = tar.gettarinfo(str(path), arcname=str(path.relative_to(src)))
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            with path.open("rb") as fh:
                tar.addfile(info, fh)
    # gzip writes its own mtime; rewrite bytes 4-8 of the header to zero for determinism
    data = bytearray(buf.getvalue())
    data[4:8] = b"\0\0\0\0"
    return bytes(data)


def generated_tests_command(package_dir: Path, basetemp: str) -> tuple[list[str], dict[str, str]]:
    """argv and environment that run a rendered package's tests: cwd and ``PYTHONPATH`` = the package.

    An own ``--basetemp``: pytest otherwise rotates the shared ``/tmp/pytest-of-<user>`` folders and
    may delete the temp dirs of another pytest session still running on this machine.
    """
    path = os.pathsep.join(p for p in (str(package_dir), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"}
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--basetemp={basetemp}", "tests"], env


def run_generated_tests_blocking(package_dir: Path, timeout_s: float = TEST_TIMEOUT_S) -> subprocess.CompletedProcess:
    """Run a rendered package's tests as the scaffold step does, blocking (for template tests).

    Returns:
        the completed process; ``stdout`` holds pytest's output and stderr together.
    """
    with tempfile.TemporaryDirectory(prefix="shipway-scaffold-") as basetemp:
        argv, env = generated_tests_command(package_dir, basetemp)
        return subprocess.run(argv, cwd=package_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=timeout_s)


async def run_generated_tests(package_dir: Path) -> tuple[int, str]:
    """Run ``pytest`` on the rendered package in a subprocess, heartbeating; returns ``(exit code, output tail)``."""
    with tempfile.TemporaryDirectory(prefix="shipway-scaffold-") as basetemp:
        argv, env = generated_tests_command(package_dir, basetemp)
        proc = await asyncio.create_subprocess_exec(*argv, cwd=package_dir, env=env, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.STDOUT)
        communicate = asyncio.ensure_future(proc.communicate())
        try:
            while not (await asyncio.wait({communicate}, timeout=5))[0]:
                activity.heartbeat("running generated tests")
        except BaseException:
            proc.kill()
            raise
        out, _ = communicate.result()
    return proc.returncode, out.decode(errors="replace")[-4000:]


@activity.defn(name=SCAFFOLD_AGENT)
async def scaffold_agent(inp: ScaffoldInput) -> ScaffoldResult:
    """Render, test and store an agent version's code package under ``<state_dir>/artifacts``.

    Raises:
        ApplicationError (non-retryable, type ``ScaffoldTestsFailed``): the generated tests failed;
            the message carries the end of pytest's output.
    """
    spec, version = inp.spec, inp.version
    agent = get_agent(spec["template"])
    name = spec["name"]
    root = get_settings().state_dir.resolve() / "artifacts" / name / f"v{version}"
    src = root / "src"
    shutil.rmtree(src, ignore_errors=True)
    context = {"name": name, "package": package_name(name), "version": version, "template": spec["template"],
               "spec": spec, "config": spec.get("config") or {}}
    files = render_package(agent.template_dir, src, context)
    code, output = await run_generated_tests(src)
    if code != 0:
        raise ApplicationError(f"generated tests failed (exit {code}):\n{output}", type="ScaffoldTestsFailed", non_retryable=True)
    data = reproducible_tarball(src)
    artifact = root / f"{name}-v{version}.tar.gz"
    artifact.write_bytes(data)
    return ScaffoldResult(artifact_sha256=hashlib.sha256(data).hexdigest(), artifact_path=str(artifact),
                          files=[str(f) for f in files],
                          tests_summary=output.strip().splitlines()[-1] if output.strip() else "")
