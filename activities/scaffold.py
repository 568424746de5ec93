"""Lifecycle step ``scaffold``: build a version's artifact and store it by its SHA-256.

Assemble the tree (a rendered template with the agent's own source, or the submitted LangGraph
project), run its own tests against it, load its graph in a subprocess exactly as a worker will
(for the input and output JSON Schemas, and to refuse a graph that does not load), write the
manifest, pack a reproducible archive and put it in the artifact store. The SHA-256 of that archive
is the version's identity: what the approver sees is what workers run.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import platform
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.artifact_assembly import Assembly, BuildError, assemble_project, assemble_template
from activities.artifact_format import ArtifactError, Manifest, file_hashes, pack, unpack, verify
from activities.artifact_store import ArtifactNotFound, ArtifactStore
from activities.artifact_tests import NO_TESTS_COLLECTED, report, run_tests
from workflows.types import SCAFFOLD_AGENT, ScaffoldInput, ScaffoldResult

PROBE_TIMEOUT_S = 120.0


def _fail(kind: str, message: str) -> ApplicationError:
    return ApplicationError(message, type=kind, non_retryable=True)


async def probe(tree: Path) -> dict:
    """Load ``tree``'s graph in a subprocess (:mod:`activities.artifact_probe`); returns its schemas.

    Raises:
        ApplicationError (``GraphLoadFailed``): the graph does not load or compile; the message holds the error.
    """
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "activities.artifact_probe", str(tree),
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=PROBE_TIMEOUT_S)
    except TimeoutError as exc:
        proc.kill()
        raise _fail("GraphLoadFailed", f"loading the graph took longer than {PROBE_TIMEOUT_S:.0f} s") from exc
    if proc.returncode != 0:
        raise _fail("GraphLoadFailed", f"the graph does not load: {err.decode(errors='replace')[-2000:]}")
    return json.loads(out)


class BuildActivities:
    """The build step, with the artifact store it reads sources from and writes artifacts to.

    Args:
        store: the artifact store.
        test_timeout_s: longest an artifact's own tests may run, seconds.
    """

    def __init__(self, store: ArtifactStore, test_timeout_s: float = 300.0) -> None:
        self.store, self.test_timeout_s = store, test_timeout_s

    def _source_tree(self, sha256: str, dest: Path) -> None:
        try:
            data = self.store.get(sha256)
            verify(data, sha256)
            unpack(data, dest)
        except ArtifactNotFound as exc:
            raise _fail("ProjectError", f"source archive {sha256} is not in the artifact store ({self.store.location})") from exc
        except ArtifactError as exc:
            raise _fail("ProjectError", f"source archive {sha256}: {exc}") from exc

    async def _assemble(self, spec: dict, version: int, work: Path, tree: Path) -> Assembly:
        try:
            if spec.get("template"):
                return await asyncio.to_thread(assemble_template, spec, version, tree)
            source = work / "source"
            await asyncio.to_thread(self._source_tree, spec["source"]["archive_sha256"], source)
            return await asyncio.to_thread(assemble_project, source, spec["source"]["graph"], tree)
        except BuildError as exc:
            raise _fail(exc.kind, str(exc)) from exc

    @activity.defn(name=SCAFFOLD_AGENT)
    async def scaffold_agent(self, inp: ScaffoldInput) -> ScaffoldResult:
        """Build, test and store the artifact of ``inp.version`` of ``inp.spec``.

        Raises:
            ApplicationError (non-retryable): ``ScaffoldTestsFailed`` (the artifact's tests failed or
                ran out of time; the message ends with pytest's output), ``ProjectError``,
                ``MissingRequirements``, ``TemplateError``, ``GraphLoadFailed``.
        """
        spec = inp.spec
        with tempfile.TemporaryDirectory(prefix="shipway-build-") as tmp:
            work = Path(tmp)
            tree = work / "artifact"
            tree.mkdir()
            assembly = await self._assemble(spec, inp.version, work, tree)
            manifest = Manifest(
                name=spec["name"], version=inp.version, source=assembly.source, graph=assembly.graph,
                graph_name=assembly.graph_name, python_paths=assembly.python_paths, output=assembly.output,
                input_model=assembly.input_model, output_checks=assembly.output_checks,
                requirements=assembly.requirements, env=assembly.env,
                model=spec.get("model"), shipway_version=importlib.metadata.version("shipway"),
                langgraph_version=importlib.metadata.version("langgraph"), python_version=platform.python_version())
            try:
                code, output = await run_tests(tree, assembly.python_paths, self.test_timeout_s, activity.heartbeat,
                                               assembly.requirements)
            except TimeoutError as exc:
                raise _fail("ScaffoldTestsFailed", f"the artifact's tests did not finish: {exc}") from exc
            if code not in (0, NO_TESTS_COLLECTED):
                raise _fail("ScaffoldTestsFailed", f"the artifact's tests failed (exit {code}):\n{output}")
            manifest.tests = report(code, output)
            manifest.files = file_hashes(tree)
            (tree / "shipway-manifest.json").write_text(manifest.to_json())
            schemas = await probe(tree)
            manifest.input_schema, manifest.output_schema = schemas["input_schema"], schemas["output_schema"]
            (tree / "shipway-manifest.json").write_text(manifest.to_json())
            data = pack(tree)
        sha = await asyncio.to_thread(self.store.put, data, "artifact")
        return ScaffoldResult(artifact_sha256=sha, files=sorted(manifest.files), tests_summary=manifest.tests.summary,
                              manifest=asdict(manifest))
