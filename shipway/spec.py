"""The agent spec: what an owner submits to start an agent version's lifecycle."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shipway.guard_policy import GuardSpec
from workflows.strategies import KNOWN, steps_for
from workflows.types import CanaryThresholds, DeploymentStep

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{1,62}$")


class StepSpec(BaseModel):
    """One custom rollout step: percent of traffic to the new version, then seconds of bake time."""

    model_config = ConfigDict(extra="forbid")
    weight_pct: float
    bake_s: float = 0.0


class ThresholdsSpec(BaseModel):
    """When a canary is rolled back (:class:`~workflows.types.CanaryThresholds`, whose defaults
    apply to what is left out): rates 0-1, latency ms, violation margin in percentage points."""

    model_config = ConfigDict(extra="forbid")
    max_error_rate: float = Field(default=0.05, gt=0, lt=1)
    max_p99_ms: float = Field(default=5000.0, gt=0)
    max_p99_ratio: float = Field(default=1.5, ge=1)
    min_p99_excess_ms: float = Field(default=250.0, ge=0)
    max_violation_points: float = Field(default=2.0, ge=0, le=100)
    max_cost_ratio: float = Field(default=1.5, ge=1)
    min_runs: int = Field(default=20, ge=1, le=100_000)
    alpha: float = Field(default=0.05, gt=0, lt=0.5)
    max_inconclusive: int = Field(default=3, ge=0, le=100)

    def as_thresholds(self) -> CanaryThresholds:
        """The workflow's dataclass."""
        return CanaryThresholds(**self.model_dump())


class DeploymentSpec(BaseModel):
    """How a version is rolled out: a CodeDeploy-style strategy name (or ``Custom`` with
    ``steps``), on a target, judged against ``thresholds``."""

    model_config = ConfigDict(extra="forbid")
    strategy: str = Field(default="AllAtOnce", description=f"One of: {', '.join(KNOWN)}.")
    steps: list[StepSpec] | None = None
    target: Literal["local", "aws"] = "local"
    thresholds: ThresholdsSpec | None = None

    @field_validator("strategy")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in KNOWN:
            raise ValueError(f"unknown deployment strategy {v!r}; known: {', '.join(KNOWN)}")
        return v

    @model_validator(mode="after")
    def _steps(self) -> "DeploymentSpec":
        # the workflow's own rule, so a spec that passes here never fails the rollout later
        steps_for(self.strategy, self.deployment_steps())
        return self

    def deployment_steps(self) -> list[DeploymentStep] | None:
        """The custom steps as the deployment workflow takes them, or None for a named strategy."""
        return [DeploymentStep(s.weight_pct, s.bake_s) for s in self.steps] if self.steps else None


class ProjectSource(BaseModel):
    """Where a LangGraph project's code is: its source archive in the artifact store (by SHA-256) and
    the graph of its ``langgraph.json`` to deploy."""

    model_config = ConfigDict(extra="forbid")
    archive_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    graph: str = Field(min_length=1)


class AgentSpec(BaseModel):
    """A validated agent spec (YAML or JSON; for a LangGraph project, its ``shipway.yaml`` plus ``source``).

    Fields: ``name`` (DNS-label style), ``owner`` (e-mail or user id, may not approve),
    ``description``, the code (exactly one of ``template``, a reference agent or ``module:ATTR``, and
    ``source``, a submitted project), ``model`` (``provider:model`` or null), ``system_prompt``,
    ``tools``, ``data_classification``, ``deployment``, ``guard`` (the run guards' PII policy and the
    agent's topics, :mod:`shipway.guard_policy`), ``config`` (passed to a template's ``build_graph``),
    ``tenant`` (the one tenant whose keys may see and run it; unset: a shared agent every tenant may run),
    the budgets ``max_cost_usd`` (per run), ``daily_budget_usd`` and ``daily_budget_hard_stop`` (per agent and
    UTC day), ``retention_days`` (how long a finished thread's older checkpoints are kept), and how a
    run's graph is checkpointed: ``durability`` and ``external_calls`` (:mod:`shipway.durability`).
    """

    model_config = ConfigDict(extra="forbid")
    name: str
    owner: str = Field(min_length=1)
    description: str = Field(min_length=10, max_length=4000)
    template: str | None = None
    source: ProjectSource | None = None
    model: str | None = None
    system_prompt: str = ""
    tools: list[str] = Field(default_factory=list)
    data_classification: Literal["public", "internal", "confidential", "restricted"] = "internal"
    deployment: DeploymentSpec = Field(default_factory=DeploymentSpec)
    guard: GuardSpec = Field(default_factory=GuardSpec)
    config: dict[str, Any] = Field(default_factory=dict)
    tenant: str | None = Field(default=None, min_length=1, max_length=100)
    max_cost_usd: float | None = Field(default=None, gt=0, description="Per-run budget, US dollars: a run that reaches it "
                                       "stops at the next node boundary with status budget_exceeded.")
    daily_budget_usd: float | None = Field(default=None, gt=0, description="Per-agent budget per UTC day, US dollars: an "
                                           "alert event at 80% and 100%.")
    daily_budget_hard_stop: bool = Field(default=False, description="Refuse new runs (429) once the daily budget is spent.")
    retention_days: int | None = Field(default=None, ge=1, le=3650, description="Days a finished thread's older "
                                       "checkpoints are kept; unset = SHIPWAY_RETENTION_DAYS (30).")
    durability: Literal["auto", "exit", "async", "sync"] = Field(
        default="auto", description="When the graph's checkpoints are written: 'exit' once, when a run step ends or "
        "interrupts (a crashed step runs again whole); 'async'/'sync' after every node (a crashed step resumes at its "
        "last node). 'auto': 'async' when a node may call an LLM (a model is set) or an external system "
        "(external_calls), else 'exit'.")
    external_calls: bool = Field(default=False, description="Nodes call external systems (payments, e-mail, APIs): "
                                 "with durability 'auto', checkpoint after every node so no such node runs twice.")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME_RE.match(v):
            raise ValueError("must be 2-63 characters of lowercase letters, digits and '-', starting with a letter")
        return v

    @field_validator("model")
    @classmethod
    def _model(cls, v: str | None) -> str | None:
        if v is not None and ":" not in v:
            raise ValueError("must be 'provider:model', e.g. 'openai:gpt-4o-mini'")
        return v

    @model_validator(mode="after")
    def _code(self) -> "AgentSpec":
        if (self.template is None) == (self.source is None):
            raise ValueError("give exactly one of 'template' (a reference agent or module:ATTR) and 'source' (a LangGraph project)")
        if self.source is not None and self.config:
            raise ValueError("'config' applies to templates; a LangGraph project configures itself")
        return self


class SpecError(ValueError):
    """A spec failed validation; ``errors`` lists ``(field_path, message)``."""

    def __init__(self, errors: list[tuple[str, str]]):
        self.errors = errors
        super().__init__("; ".join(f"{f}: {m}" for f, m in errors))


def parse_spec(raw: Any) -> AgentSpec:
    """Validate a raw spec mapping.

    Raises:
        SpecError: with one ``(field, message)`` per problem, the field given as a dotted path.
    """
    if not isinstance(raw, dict):
        raise SpecError([("<root>", f"spec must be a mapping, got {type(raw).__name__}")])
    try:
        return AgentSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError([(".".join(str(p) for p in e["loc"]) or "<root>", e["msg"]) for e in exc.errors()]) from exc


def load_spec_file(path: str) -> dict:
    """Read a YAML or JSON spec file into a raw mapping (not yet validated).

    Raises:
        SpecError: the file is not valid YAML/JSON.
    """
    import yaml

    with open(path, encoding="utf-8") as fh:
        try:
            return yaml.safe_load(fh)
        except yaml.YAMLError as exc:
            raise SpecError([("<file>", f"not valid YAML/JSON: {exc}")]) from exc
