"""A LangGraph project in the LangGraph CLI's layout, as Shipway reads it.

``langgraph.json`` (the fields Shipway uses, with the CLI's documented meaning):

- ``graphs``: ``{name: "./path/to/file.py:attr"}``; ``attr`` is a ``StateGraph``, a compiled graph,
  or a factory taking a ``RunnableConfig``. ``--graph NAME`` picks one when there are several.
- ``dependencies``: local paths (``"."``, ``"./src"``) make the project's own packages importable
  (a folder with ``pyproject.toml`` and a ``src/`` folder imports from ``src``); their
  ``pyproject.toml`` ``[project] dependencies`` and ``requirements.txt`` lines, and every other
  entry (a requirement string such as ``"pandas>=2"``), must be satisfied by the worker's environment.
- ``env``: a mapping, or the path of a ``.env`` file (which may be absent).

``shipway.yaml`` holds the governance fields of the agent spec (name, owner, description, data
classification, model, deployment, ...), everything but the code.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path, PurePosixPath

import yaml
from dotenv import dotenv_values
from packaging.requirements import InvalidRequirement, Requirement

CONFIG_FILE = "langgraph.json"
GOVERNANCE_FILE = "shipway.yaml"
_GRAPH_REF = re.compile(r"^(?P<file>[^:]+\.py):(?P<attr>[A-Za-z_][A-Za-z0-9_.]*)$")


class ProjectError(ValueError):
    """The project breaks the layout; ``errors`` lists ``(field, message)`` (e.g. ``("langgraph.json graphs", ...)``)."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{f}: {m}" for f, m in errors))


@dataclass
class Project:
    """A parsed project: its folder, the chosen graph, importable roots, requirements, env and the
    governance fields of ``shipway.yaml``."""

    root: Path
    graph_name: str
    graph: str  # "relative/path.py:attr"
    python_paths: list[str]
    requirements: list[str]
    env: dict[str, str]
    governance: dict = field(default_factory=dict)


def _rel(root: Path, raw: str, what: str) -> PurePosixPath:
    path = PurePosixPath(raw)
    if path.is_absolute() or ".." in path.parts:
        raise ProjectError([(what, f"{raw!r} must be a path inside the project")])
    return PurePosixPath(*[p for p in path.parts if p != "."]) if path.parts != (".",) else PurePosixPath(".")


def _local_requirements(folder: Path) -> list[str]:
    reqs = []
    pyproject = folder / "pyproject.toml"
    if pyproject.exists():
        try:
            reqs += tomllib.loads(pyproject.read_text()).get("project", {}).get("dependencies", []) or []
        except tomllib.TOMLDecodeError as exc:
            raise ProjectError([(str(pyproject.name), f"not valid TOML: {exc}")]) from exc
    requirements = folder / "requirements.txt"
    if requirements.exists():
        reqs += [line.split("#", 1)[0].strip() for line in requirements.read_text().splitlines()
                 if line.split("#", 1)[0].strip() and not line.strip().startswith("-")]
    return reqs


def read_project(root: Path, graph: str | None = None) -> Project:
    """Parse ``root/langgraph.json`` and ``root/shipway.yaml``.

    Args:
        root: the project folder.
        graph: the graph to deploy, by its name in ``graphs``; needed when there are several.

    Raises:
        ProjectError: naming each problem (missing files, bad JSON/YAML, unknown graph, a graph
            reference that is not ``./file.py:attr`` or names a missing file, paths outside the project).
    """
    errors: list[tuple[str, str]] = []
    config_path = root / CONFIG_FILE
    if not config_path.is_file():
        raise ProjectError([(CONFIG_FILE, "missing: a LangGraph project needs langgraph.json at its root")])
    try:
        config = json.loads(config_path.read_text())
    except json.JSONDecodeError as exc:
        raise ProjectError([(CONFIG_FILE, f"not valid JSON: {exc}")]) from exc
    if not isinstance(config, dict):
        raise ProjectError([(CONFIG_FILE, "must be a JSON object")])

    graphs = config.get("graphs")
    if not isinstance(graphs, dict) or not graphs or not all(isinstance(v, str) for v in graphs.values()):
        raise ProjectError([(f"{CONFIG_FILE} graphs", "must map each graph name to './path/to/file.py:attr'")])
    if graph is None and len(graphs) > 1:
        raise ProjectError([("graph", f"the project has several graphs ({', '.join(graphs)}): choose one with --graph")])
    name = graph or next(iter(graphs))
    if name not in graphs:
        raise ProjectError([("graph", f"no graph {name!r} in {CONFIG_FILE}; it has {', '.join(graphs)}")])
    match = _GRAPH_REF.match(graphs[name])
    entry = None
    if not match:
        errors.append((f"{CONFIG_FILE} graphs.{name}", f"{graphs[name]!r} is not './path/to/file.py:attr'"))
    else:
        entry_file = _rel(root, match["file"], f"{CONFIG_FILE} graphs.{name}")
        if not (root / entry_file).is_file():
            errors.append((f"{CONFIG_FILE} graphs.{name}", f"file {match['file']!r} does not exist"))
        entry = f"{entry_file.as_posix()}:{match['attr']}"

    deps = config.get("dependencies", [])
    python_paths, requirements = [], []
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        errors.append((f"{CONFIG_FILE} dependencies", "must be a list of strings (local paths or requirements)"))
        deps = []
    for dep in deps:
        if dep.startswith((".", "/")):
            rel = _rel(root, dep, f"{CONFIG_FILE} dependencies")
            folder = root / rel
            if not folder.is_dir():
                errors.append((f"{CONFIG_FILE} dependencies", f"local path {dep!r} is not a folder of the project"))
                continue
            src_layout = (folder / "pyproject.toml").exists() and (folder / "src").is_dir()
            python_paths.append((rel / "src").as_posix() if src_layout else rel.as_posix())
            requirements += _local_requirements(folder)
        else:
            requirements.append(dep)
    if "." not in python_paths:
        python_paths.append(".")  # the graph file itself is importable from the project root, as `langgraph dev` does

    env = config.get("env", {})
    if isinstance(env, str):
        env_file = root / _rel(root, env, f"{CONFIG_FILE} env")
        env = {k: v or "" for k, v in dotenv_values(env_file).items()} if env_file.is_file() else {}
    elif not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        errors.append((f"{CONFIG_FILE} env", "must be a mapping of strings or the path of a .env file"))
        env = {}

    governance = {}
    gov_path = root / GOVERNANCE_FILE
    if not gov_path.is_file():
        errors.append((GOVERNANCE_FILE, "missing: the agent's owner, description and data classification live there"))
    else:
        try:
            governance = yaml.safe_load(gov_path.read_text()) or {}
        except yaml.YAMLError as exc:
            errors.append((GOVERNANCE_FILE, f"not valid YAML: {exc}"))
        if not isinstance(governance, dict):
            errors.append((GOVERNANCE_FILE, "must be a mapping of spec fields"))
            governance = {}
    if errors:
        raise ProjectError(errors)
    return Project(root=root, graph_name=name, graph=entry, python_paths=python_paths, requirements=requirements,
                   env=env, governance=governance)


def unmet_requirements(requirements: list[str]) -> list[str]:
    """Each requirement the running environment does not satisfy, with why (``"pandas>=9: 2.2.3 is installed"``,
    ``"leftpad: not installed"``); requirements whose markers do not apply here are skipped.

    Uses ``packaging`` for requirement and marker parsing and ``importlib.metadata`` for installed versions.
    """
    problems = []
    for raw in requirements:
        try:
            req = Requirement(raw)
        except InvalidRequirement as exc:
            problems.append(f"{raw}: not a valid requirement ({exc})")
            continue
        if req.marker is not None and not req.marker.evaluate():
            continue
        try:
            installed = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            problems.append(f"{raw}: not installed")
            continue
        if req.specifier and not req.specifier.contains(installed, prereleases=True):
            problems.append(f"{raw}: {installed} is installed")
    return problems
