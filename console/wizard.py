"""The agent creation wizard without Streamlit: the form's values (:class:`Draft`), the raw spec they
make, and what each step finds wrong with them. The "Create agent" page renders it.

Steps: 0 identity (name, owner, description), 1 behaviour (a built-in template or an uploaded
LangGraph project, model, system prompt, tools), 2 data and risk (data classification, and the
lifecycle guard's PII findings), 3 rollout (strategy, custom steps, target), 4 review and submit.
A step is checked by validating the spec built so far with :func:`shipway.spec.parse_spec` and
keeping the errors of that step's fields, so a field is judged by the same rules as the lifecycle's
validate step; a project's check (:func:`check_project`), the guard and the targets Shipway cannot
deploy to yet add their own errors.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any, get_args

import yaml

from activities.artifact_format import ArtifactError, read_files
from activities.artifact_store import ArtifactStore
from activities.langgraph_project import CONFIG_FILE, ProjectError
from activities.spec_guard import spec_findings
from reference_agents.registry import available_templates, get_agent
from shipway.projects import ARCHIVE_SUFFIXES, upload_project
from shipway.spec import AgentSpec, SpecError, parse_spec
from workflows.strategies import CUSTOM, STRATEGIES

STEPS = ("Identity", "Behaviour", "Data and risk", "Rollout", "Review and submit")
IDENTITY, BEHAVIOUR, DATA_AND_RISK, ROLLOUT, REVIEW = range(len(STEPS))
TEMPLATE, PROJECT = "template", "project"  # where the agent's code comes from
CLASSIFICATIONS: tuple[str, ...] = get_args(AgentSpec.model_fields["data_classification"].annotation)
TARGETS = ("local", "aws")
AVAILABLE_TARGETS = ("local",)  # the deployment workflow routes gateway traffic only
DEFAULT_CUSTOM_STEPS = ({"weight_pct": 10.0, "bake_s": 60.0}, {"weight_pct": 100.0, "bake_s": 0.0})

# The step each top-level spec field is filled in; fields the form has no input for (a project's
# shipway.yaml may carry them) count as behaviour, where the project is uploaded.
_FIELD_STEP = {"name": IDENTITY, "owner": IDENTITY, "description": IDENTITY, "data_classification": DATA_AND_RISK,
               "deployment": ROLLOUT}
# The Draft attributes behind each top-level spec field, to tell whether the user has filled it in.
_FIELD_ATTRS = {"name": ("name",), "owner": ("owner",), "description": ("description",), "template": ("template",),
                "source": ("project", "project_errors"), "model": ("model",), "system_prompt": ("system_prompt",),
                "tools": ("tools",), "data_classification": ("data_classification",),
                "deployment": ("strategy", "steps", "target")}
# Text inputs a project's shipway.yaml pre-fills (Draft attributes named as the spec fields).
_PREFILLED = ("model", "system_prompt", "tools", "data_classification")


@dataclass(frozen=True)
class FieldError:
    """What is wrong with one field: ``field`` is a dotted spec path (``name``, ``deployment.steps``,
    ``source``; for a project's own problems ``source: <where in the project>``)."""

    field: str
    message: str

    @property
    def top(self) -> str:
        """The top-level spec field (``deployment`` for ``deployment.steps``, ``source`` for any project problem)."""
        return self.field.split(":", 1)[0].split(".", 1)[0]

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass(frozen=True)
class ProjectUpload:
    """A checked LangGraph project archive: its stored source archive (SHA-256), the graph to deploy,
    every graph of its ``langgraph.json`` and the governance fields of its ``shipway.yaml``."""

    filename: str
    archive_sha256: str
    graph: str
    graphs: tuple[str, ...]
    governance: dict


@dataclass
class Draft:
    """The wizard's form values. ``tools`` is the comma-separated text typed; ``steps`` the custom
    rollout table as ``[{weight_pct, bake_s}]`` (used with strategy ``Custom`` only); ``project`` the
    checked upload (``project_errors`` what was wrong with the last one that failed its check)."""

    name: str = ""
    owner: str = ""
    description: str = ""
    code: str = TEMPLATE
    template: str | None = None
    project: ProjectUpload | None = None
    project_errors: list[tuple[str, str]] = field(default_factory=list)
    model: str = ""
    system_prompt: str = ""
    tools: str = ""
    data_classification: str = "internal"
    strategy: str = "AllAtOnce"
    steps: list[dict] = field(default_factory=lambda: [dict(s) for s in DEFAULT_CUSTOM_STEPS])
    target: str = "local"

    def use_project(self, upload: ProjectUpload) -> list[str]:
        """Take a checked project; its ``shipway.yaml`` pre-fills the inputs still at their defaults
        (model, system prompt, tools, data classification, rollout), so the form shows what will be
        submitted. Returns the names of the attributes it changed."""
        self.project, self.project_errors = upload, []
        gov, default, changed = upload.governance, Draft(), []

        def fill(attr: str, value: Any) -> None:
            if getattr(self, attr) == getattr(default, attr) and value != getattr(default, attr):
                setattr(self, attr, value)
                changed.append(attr)

        for attr in _PREFILLED:
            value = gov.get(attr)
            if isinstance(value, list):
                value = ", ".join(str(v) for v in value)
            if isinstance(value, str):
                fill(attr, value)
        deployment = gov.get("deployment")
        if isinstance(deployment, dict):
            for attr in ("strategy", "target"):
                if isinstance(deployment.get(attr), str):
                    fill(attr, deployment[attr])
            if isinstance(deployment.get("steps"), list):
                fill("steps", [dict(s) for s in deployment["steps"] if isinstance(s, dict)])
        return changed

    def refuse_project(self, errors: list[tuple[str, str]]) -> None:
        """Record why an uploaded archive failed its check; the previously checked project is dropped."""
        self.project, self.project_errors = None, list(errors)

    def touched(self, spec_field: str) -> bool:
        """Whether the input behind ``spec_field`` (top-level name) differs from its default; fields
        the form has no input for count as touched (their value came from ``shipway.yaml``)."""
        attrs = _FIELD_ATTRS.get(spec_field.split(".", 1)[0])
        default = Draft()
        return attrs is None or any(getattr(self, a) != getattr(default, a) for a in attrs)


def template_titles() -> dict[str, str]:
    """``{template: "Title (template)"}`` of the built-in templates installed here, in registry order."""
    return dict(_template_titles())


@lru_cache(maxsize=1)
def _template_titles() -> tuple[tuple[str, str], ...]:
    # importing every template takes a moment: once per process
    return tuple((t, f"{get_agent(t).title} ({t})") for t in available_templates())


def parse_tools(text: str) -> list[str]:
    """Tool names from comma-separated text, stripped, empty entries left out."""
    return [t.strip() for t in text.split(",") if t.strip()]


def custom_steps(records: Iterable[Mapping[str, Any]]) -> list[dict]:
    """Rows of the custom rollout table as ``[{weight_pct, bake_s}]``. Rows with no weight (a row
    added but not filled in) are left out; an empty bake time is 0 s. Values stay as typed, so a bad
    one is reported by the spec's rules rather than changed here."""
    steps = []
    for row in records:
        weight, bake = row.get("weight_pct"), row.get("bake_s")
        if _blank(weight):
            continue
        steps.append({"weight_pct": float(weight), "bake_s": 0.0 if _blank(bake) else float(bake)})
    return steps


def _blank(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def strategy_summary(strategy: str) -> str:
    """The steps of a named strategy in words (``10% for 300 s, then 100%``); ``""`` for ``Custom``."""
    steps = STRATEGIES.get(strategy, [])
    return ", then ".join(f"{s.weight_pct:g}%" + (f" for {s.bake_s:g} s" if s.bake_s else "") for s in steps)


def build_spec(draft: Draft) -> dict:
    """The raw spec the form makes, as submitted to the lifecycle.

    For a project: ``shipway.yaml``'s fields, overridden by every field of the form, plus ``source``
    (the stored archive and the graph). For a template: the form's fields and ``template``.
    ``model`` is None when left empty; ``deployment.steps`` is given for strategy ``Custom`` only.
    """
    deployment: dict[str, Any] = {"strategy": draft.strategy, "target": draft.target}
    if draft.strategy == CUSTOM:
        deployment["steps"] = [dict(s) for s in draft.steps]
    spec: dict[str, Any] = {"name": draft.name.strip(), "owner": draft.owner.strip(), "description": draft.description.strip()}
    if draft.code == TEMPLATE and draft.template:
        spec["template"] = draft.template
    elif draft.code == PROJECT and draft.project:
        spec["source"] = {"archive_sha256": draft.project.archive_sha256, "graph": draft.project.graph}
    spec.update(model=draft.model.strip() or None, system_prompt=draft.system_prompt.strip(), tools=parse_tools(draft.tools),
                data_classification=draft.data_classification, deployment=deployment)
    if draft.code == PROJECT and draft.project:
        spec.update({k: v for k, v in draft.project.governance.items() if k not in spec})
    return spec


def spec_yaml(draft: Draft) -> str:
    """The raw spec as YAML, fields in the form's order."""
    return yaml.safe_dump(build_spec(draft), sort_keys=False, allow_unicode=True)


def overridden(draft: Draft) -> list[tuple[str, Any, Any]]:
    """For a project: the ``shipway.yaml`` fields the form replaces with another value, as
    ``(field, shipway.yaml's value, the form's value)`` in the spec's order; empty for a template."""
    if draft.code != PROJECT or not draft.project:
        return []
    governance = draft.project.governance
    return [(k, governance[k], v) for k, v in build_spec(draft).items() if k in governance and _replaces(governance[k], v)]


def _replaces(theirs: Any, ours: Any) -> bool:
    # a mapping the form only completes (a deployment given its default target) is not replaced
    if isinstance(theirs, dict) and isinstance(ours, dict):
        return any(k not in ours or _replaces(v, ours[k]) for k, v in theirs.items())
    return theirs != ours


def step_of(spec_field: str) -> int:
    """The step where a (dotted) spec field is filled in."""
    return _FIELD_STEP.get(spec_field.split(".", 1)[0], BEHAVIOUR)


def step_errors(draft: Draft, step: int) -> list[FieldError]:
    """What keeps ``step`` from being done: errors of its own fields only (later steps' fields are
    not judged yet); empty when the user may go on. The review step reports every step's errors.

    Errors come from :func:`~shipway.spec.parse_spec` on the spec built so far, plus: at behaviour,
    no template chosen or no checked project (with the project's own problems); at data and risk,
    each PII finding of the lifecycle's guard in the description or system prompt (entity, field
    and character positions); at rollout, a target not available yet.
    """
    if step == REVIEW:
        return [e for s in range(REVIEW) for e in step_errors(draft, s)]
    spec = build_spec(draft)
    errors = [FieldError(f, m) for f, m in _spec_errors(spec) if step_of(f) == step]
    if step == BEHAVIOUR:
        code_errors = _code_errors(draft)
        if code_errors:
            # "give exactly one of template and source" would only repeat what is missing
            errors = code_errors + [e for e in errors if e.field != "<root>"]
    elif step == DATA_AND_RISK:
        errors += [FieldError(f.field, f"PII found: {f.entity} at characters {f.start}-{f.end} (score {f.score:g}); "
                                       "the lifecycle's guard refuses a spec carrying PII")
                   for f in spec_findings(spec)]
    elif step == ROLLOUT and draft.target not in AVAILABLE_TARGETS:
        errors.append(FieldError("deployment.target", f"the {draft.target} target is not available yet; choose "
                                                      f"{' or '.join(AVAILABLE_TARGETS)}"))
    return errors


def _spec_errors(spec: dict) -> list[tuple[str, str]]:
    try:
        parse_spec(spec)
    except SpecError as exc:
        # pydantic prefixes a validator's own message with "Value error, "
        return [(f, m.removeprefix("Value error, ")) for f, m in exc.errors]
    return []


def _code_errors(draft: Draft) -> list[FieldError]:
    if draft.code == TEMPLATE:
        if not draft.template:
            return [FieldError("template", "choose a template")]
        if draft.template not in template_titles():
            return [FieldError("template", f"{draft.template!r} is not a template installed here")]
        return []
    if draft.project:
        return []
    if draft.project_errors:
        return [FieldError(f"source: {where}", message) for where, message in draft.project_errors]
    return [FieldError("source", "upload a LangGraph project archive (.tar.gz or .tgz)")]


def archive_graphs(data: bytes) -> list[str]:
    """The graph names of ``langgraph.json`` in a project archive (at its root, or in its only
    top-level folder), in file order; empty when the archive or the file cannot be read (the
    project check then says why)."""
    try:
        files = read_files(data)
    except ArtifactError:
        return []
    tops = {PurePosixPath(p).parts[0] for p in files}
    candidates = [CONFIG_FILE] + ([f"{next(iter(tops))}/{CONFIG_FILE}"] if len(tops) == 1 else [])
    for path in candidates:
        if path in files:
            try:
                graphs = json.loads(files[path]).get("graphs")
            except (ValueError, AttributeError):
                return []
            return list(graphs) if isinstance(graphs, dict) else []
    return []


def check_project(store: ArtifactStore, filename: str, data: bytes, graph: str | None = None) -> ProjectUpload:
    """Check an uploaded project archive as ``shipway agent submit`` does and store its source archive.

    Args:
        store: the artifact store the lifecycle's build step reads the archive from.
        filename: the uploaded file's name (``.tar.gz`` or ``.tgz``).
        data: the archive's bytes.
        graph: the graph of ``langgraph.json`` to deploy; needed when it has several.

    Raises:
        ProjectError: naming each problem: not a ``.tar.gz``/``.tgz`` name, an unreadable or unsafe
            archive, a broken project layout, several graphs and none chosen (``graph``, listing them).
    """
    if not filename.endswith(ARCHIVE_SUFFIXES):
        raise ProjectError([("archive", f"{filename!r} is not a .tar.gz or .tgz archive of a LangGraph project")])
    graphs = archive_graphs(data)
    if graph is None and len(graphs) > 1:
        raise ProjectError([("graph", f"the project has several graphs ({', '.join(graphs)}): choose one")])
    with tempfile.TemporaryDirectory(prefix="shipway-upload-") as tmp:
        # under the uploaded name: upload_project tells an archive by it, and names it in its errors
        path = Path(tmp) / Path(filename).name
        path.write_bytes(data)
        sha, project = upload_project(store, path, graph)
    return ProjectUpload(filename=filename, archive_sha256=sha, graph=project.graph_name,
                         graphs=tuple(graphs) or (project.graph_name,), governance=dict(project.governance))

