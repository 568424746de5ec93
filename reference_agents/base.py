"""The shape every Shipway agent has, so the platform can run, scaffold and demo it.

An agent package (``reference_agents/<template>/``) exposes ``AGENT``, an
:class:`AgentDefinition`. The platform compiles ``AGENT.build_graph(config)`` with a
Postgres checkpointer, validates run input with ``AGENT.input_model``, and turns the
final graph state into the run's JSON output with ``AGENT.output``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel


@dataclass(frozen=True)
class AgentDefinition:
    """Everything the platform needs to know about one agent template.

    Attributes:
        template: folder name under ``reference_agents`` (e.g. ``credit_underwriting``).
        title: human name.
        build_graph: ``config -> langgraph.graph.StateGraph`` (uncompiled); ``config`` is the
            spec's ``config`` mapping (policy overrides etc.), ``{}`` for defaults.
        input_model: pydantic model of one run's input; ``model_validate`` raises
            ``pydantic.ValidationError`` on bad input.
        output: ``final_state -> dict`` JSON-serialisable run output; must contain
            ``decision`` (str) and ``reasons`` (list of machine-readable codes).
        sample_inputs: ``(n) -> list[dict]`` up to ``n`` run inputs drawn from the agent's real data.
        resume_value: ``(interrupt_payload, run_input) -> dict`` the decision a human
            reviewer gives in the demo when a run interrupts (documented rule, not random).
        summarize: ``list[outputs] -> str`` one line for the demo summary.
        package_dir: the agent's folder (holds ``spec.yaml``, ``template/``, ``data/``).
        output_checks: ``output -> [problems]`` compliance checks every run output must pass before
            it leaves the run (e.g. a declined credit application carries adverse-action reasons);
            a problem withholds the output.
    """

    template: str
    title: str
    build_graph: Callable[[dict], Any]
    input_model: type[BaseModel]
    output: Callable[[dict], dict]
    sample_inputs: Callable[[int], list[dict]]
    resume_value: Callable[[dict, dict], dict]
    summarize: Callable[[list[dict]], str]
    package_dir: Path
    extra: dict = field(default_factory=dict)
    output_checks: tuple[Callable[[dict], list[str]], ...] = ()

    @classmethod
    def from_package(cls, package: str, title: str, input_model: type[BaseModel], extra: dict | None = None) -> AgentDefinition:
        """The definition of a reference agent in the standard layout (``docs/architecture.md``):
        ``build_graph`` from ``<package>.graph``, ``output``, ``summarize`` and (optional)
        ``OUTPUT_CHECKS`` from ``<package>.outputs``, ``sample_inputs`` and ``resume_value`` from
        ``<package>.demo``; the template is the package's last name, its folder the package directory.

        Raises:
            ModuleNotFoundError, AttributeError: the package lacks a standard module or function.
        """
        graph, outputs, demo = (importlib.import_module(f"{package}.{m}") for m in ("graph", "outputs", "demo"))
        module = importlib.import_module(package)
        return cls(template=package.rsplit(".", 1)[-1], title=title, build_graph=graph.build_graph, input_model=input_model,
                   output=outputs.output, sample_inputs=demo.sample_inputs, resume_value=demo.resume_value,
                   summarize=outputs.summarize, package_dir=Path(module.__file__).resolve().parent, extra=extra or {},
                   output_checks=tuple(getattr(outputs, "OUTPUT_CHECKS", ())))

    @property
    def spec_path(self) -> Path:
        """The agent's default spec (YAML) used by ``shipway agent submit`` and the demo."""
        return self.package_dir / "spec.yaml"

    @property
    def template_dir(self) -> Path:
        """Folder of Jinja2 files (``*.j2``) the scaffold step renders into a code package."""
        return self.package_dir / "template"
