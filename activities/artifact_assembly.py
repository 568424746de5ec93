"""Assembling the tree of a version's artifact, before its tests run and it is packed.

A template version's tree holds the agent's own source (its package, and the ``reference_agents``
core it builds on: ``base.py`` and ``common/``), the template rendered with the spec (a package and
its generated tests), ``shipway_entry.py`` (the graph built with the spec's ``config``, the output
and input model) and a ``langgraph.json`` naming it, so the artifact is itself a LangGraph project.
A LangGraph project's tree is the project as submitted.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, StrictUndefined

from activities.artifact_format import IGNORED_PARTS
from activities.langgraph_project import CONFIG_FILE, Project, ProjectError, read_project, unmet_requirements
from reference_agents.registry import BUILTIN_TEMPLATES, get_agent

ENTRY_FILE = "shipway_entry.py"
# What every template agent builds on, shipped in its artifact so that nothing it imports from
# ``reference_agents`` comes from the worker's own installation.
CORE_FILES = ("reference_agents/__init__.py", "reference_agents/base.py", "reference_agents/common")
_SKIPPED = IGNORED_PARTS | {"template"}


class BuildError(ValueError):
    """The version's code cannot be assembled; ``kind`` is the error type the workflow sees
    (``ProjectError``, ``MissingRequirements``, ``TemplateError``)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class Assembly:
    """What the manifest needs to know about an assembled tree."""

    source: str
    graph: str
    graph_name: str
    python_paths: list[str]
    output: str | None
    input_model: str | None
    requirements: list[str]
    env: dict[str, str]
    output_checks: str | None = None


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


def _copy(src: Path, dest: Path) -> None:
    if src.is_dir():
        for path in src.rglob("*"):
            if path.is_file() and not _SKIPPED.intersection(path.relative_to(src).parts):
                (dest / path.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, dest / path.relative_to(src))
    else:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)


def _module_and_attr(template: str) -> tuple[str, str]:
    if ":" in template:
        module, attr = template.split(":", 1)
        return module, attr
    return f"reference_agents.{template}", "AGENT"


def copy_agent_source(template: str, tree: Path) -> None:
    """Copy the template agent's own module or package (and its parent packages' ``__init__.py``)
    and the ``reference_agents`` core into ``tree``, from where this installation has them.

    Raises:
        BuildError (``TemplateError``): the module cannot be found.
    """
    module, _ = _module_and_attr(template)
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise BuildError("TemplateError", f"the module of template {template!r} cannot be found")
    origin = Path(spec.origin)
    parts = module.split(".")
    if spec.submodule_search_locations:
        _copy(origin.parent, tree.joinpath(*parts))
    else:
        _copy(origin, tree.joinpath(*parts[:-1], f"{parts[-1]}.py"))
    for depth in range(1, len(parts)):
        parent = importlib.util.find_spec(".".join(parts[:depth]))
        if parent is not None and parent.origin:
            _copy(Path(parent.origin), tree.joinpath(*parts[:depth], "__init__.py"))
    core = Path(importlib.util.find_spec("reference_agents").origin).parent
    for rel in CORE_FILES:
        _copy(core.parent / rel, tree / rel)


def _entry_source(name: str, version: int, template: str, config: dict) -> str:
    module, attr = _module_and_attr(template)
    return f'''"""Entry points of {name} v{version} (template `{template}`) for Shipway's worker: the graph built
with the spec's ``config``, the run output, and the model validating run input."""

import json

from {module} import {attr} as AGENT

CONFIG = json.loads({json.dumps(json.dumps(config, sort_keys=True))})


def graph(config=None):
    """The uncompiled graph of this version (``config``, a RunnableConfig, is not needed)."""
    return AGENT.build_graph(CONFIG)


def output(state):
    """The run's output from the final state."""
    return AGENT.output(state)


input_model = AGENT.input_model

# compliance checks every output must pass before it leaves a run
output_checks = list(AGENT.output_checks)
'''


def assemble_template(spec: dict, version: int, tree: Path, package: str | None = None) -> Assembly:
    """Assemble a template version's tree in ``tree`` (see the module docstring).

    Raises:
        BuildError (``TemplateError``): the template cannot be found or rendered.
    """
    template, name = spec["template"], spec["name"]
    try:
        agent = get_agent(template)
    except LookupError as exc:
        raise BuildError("TemplateError", str(exc)) from exc
    copy_agent_source(template, tree)
    context = {"name": name, "package": package or package_name(name), "version": version, "template": template,
               "spec": spec, "config": spec.get("config") or {}}
    try:
        render_package(agent.template_dir, tree, context)
    except Exception as exc:  # a template is code too: any rendering error stops the build with its message
        raise BuildError("TemplateError", f"template {template!r} did not render: {exc}") from exc
    (tree / ENTRY_FILE).write_text(_entry_source(name, version, template, spec.get("config") or {}))
    (tree / CONFIG_FILE).write_text(json.dumps({"dependencies": ["."], "graphs": {name: f"./{ENTRY_FILE}:graph"}}, indent=2) + "\n")
    source = "template" if template in BUILTIN_TEMPLATES else "template-module"
    return Assembly(source=source, graph=f"{ENTRY_FILE}:graph", graph_name=name, python_paths=["."],
                    output=f"{ENTRY_FILE}:output", input_model=f"{ENTRY_FILE}:input_model", requirements=[], env={},
                    output_checks=f"{ENTRY_FILE}:output_checks")


def assemble_project(project_root: Path, graph: str, tree: Path) -> Assembly:
    """Copy a LangGraph project into ``tree`` and check it.

    Raises:
        BuildError (``ProjectError``): the layout is broken (naming each field);
            (``MissingRequirements``): the worker's environment lacks or conflicts with a requirement,
            listing each.
    """
    _copy(project_root, tree)
    try:
        project: Project = read_project(tree, graph)
    except ProjectError as exc:
        raise BuildError("ProjectError", f"invalid LangGraph project: {exc}") from exc
    if problems := unmet_requirements(project.requirements):
        raise BuildError("MissingRequirements", "the worker environment does not satisfy the project's requirements: "
                         + "; ".join(problems))
    return Assembly(source="langgraph", graph=project.graph, graph_name=project.graph_name, python_paths=project.python_paths,
                    output=None, input_model=None, requirements=project.requirements, env=project.env)
