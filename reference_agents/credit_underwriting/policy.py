"""The credit policy decision tree (``policy.yaml``): loading, validation and evaluation.

The tree is read in order: hard declines, then limits (both decline), then referral
triggers (refer to an underwriter), else approve. Every outcome carries machine-readable
reason codes: the rule names that fired, or the policy's ``approve_reason``; every code has
its one-sentence wording in the policy (a rule's ``description``, ``approve_description``).
Conditions on categorical attributes name the corrected meanings of Grömping (2019)
(:mod:`~reference_agents.credit_underwriting.tools.coding`); :func:`policy_facts` builds the facts a
policy reads from the run state.
"""

from __future__ import annotations

import copy
import operator
import re
from pathlib import Path
from typing import Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from reference_agents.common.policy import load_policy as load_policy_file
from reference_agents.credit_underwriting.tools.coding import corrected, corrected_categories
from reference_agents.credit_underwriting.tools.data import (
    CATEGORICAL_ATTRIBUTES,
    NUMERIC_ATTRIBUTES,
    PROTECTED_ATTRIBUTES,
)

POLICY_PATH = Path(__file__).resolve().parent / "policy.yaml"
TIERS = ("hard_declines", "limits", "referral_triggers")
# A spec may add rules to any tier (the Policy model validates each); thresholds stay closed so a typo is refused.
OPEN_KEYS = TIERS
TIER_DECISION = {"hard_declines": "decline", "limits": "decline", "referral_triggers": "refer"}
DERIVED_FIELDS = ("pd_pct", "score_points", "amount_per_month_dm")
SCORE_FIELDS = ("pd_pct", "score_points")
REASON_CODE_RE = re.compile(r"^[A-Z][A-Z0-9_]{2,63}$")

_OPS = {
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
    "eq": operator.eq,
    "ne": operator.ne,
    "in": lambda a, b: a in b,
    "not_in": lambda a, b: a not in b,
}


class Condition(BaseModel):
    """``field op value``; categorical values must be corrected meanings present in the data."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    field: str
    op: Literal["gt", "ge", "lt", "le", "eq", "ne", "in", "not_in"]
    value: float | int | str | list[str | int | float]

    @model_validator(mode="after")
    def _check(self) -> "Condition":
        if self.field in PROTECTED_ATTRIBUTES:
            raise ValueError(f"field {self.field!r} is a protected attribute and may not be used in credit policy")
        if self.field not in CATEGORICAL_ATTRIBUTES + NUMERIC_ATTRIBUTES + DERIVED_FIELDS:
            raise ValueError(f"unknown field {self.field!r}")
        is_list = isinstance(self.value, list)
        if is_list != (self.op in ("in", "not_in")):
            raise ValueError(f"op {self.op!r} needs {'a list' if not is_list else 'a single'} value")
        values = self.value if is_list else [self.value]
        if self.field in CATEGORICAL_ATTRIBUTES:
            if self.op not in ("eq", "ne", "in", "not_in"):
                raise ValueError(f"op {self.op!r} does not apply to categorical field {self.field!r}")
            allowed = corrected_categories()[self.field]
            unknown = [v for v in values if v not in allowed]
            if unknown:
                raise ValueError(f"{unknown} not categories of {self.field!r} (corrected meanings): {list(allowed)}")
        elif not all(isinstance(v, (int, float)) for v in values):
            raise ValueError(f"numeric field {self.field!r} needs numeric values, got {self.value!r}")
        return self

    def holds(self, facts: Mapping[str, Any]) -> bool:
        """Whether the condition is true for ``facts`` (application attributes + derived fields)."""
        return _OPS[self.op](facts[self.field], self.value)


class Rule(BaseModel):
    """A rule named by its reason code: fires when all its conditions hold (and it is enabled).

    ``description`` is the code's wording, shown to the underwriter and in the memo;
    ``applicant_reason`` is the principal reason an adverse-action notice gives when the rule
    declines (or refers, then an underwriter declines): required for decline rules that do not
    read the score, whose reasons are the scorecard's principal factors instead.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    description: str = Field(min_length=1)
    applicant_reason: str | None = Field(default=None, min_length=1)
    enabled: bool = True
    all: list[Condition] = Field(min_length=1)

    @property
    def reads_score(self) -> bool:
        """Whether the rule is a score cutoff (a condition on ``pd_pct`` or ``score_points``)."""
        return any(c.field in SCORE_FIELDS for c in self.all)


class Policy(BaseModel):
    """A validated credit policy; ``$name`` values are resolved from ``thresholds`` before validation.

    Raises:
        pydantic.ValidationError: unknown keys, fields, ops, categories (corrected meanings),
            protected attributes, malformed reason codes, a ``$name`` missing from ``thresholds``, a
            decline rule that reads no score and has no ``applicant_reason``, or a population bad
            rate outside (0, 100) percent.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: str
    population_bad_rate_pct: float = Field(gt=0, lt=100)
    thresholds: dict[str, float | int | str | list] = Field(default_factory=dict)
    hard_declines: dict[str, Rule] = Field(default_factory=dict)
    limits: dict[str, Rule] = Field(default_factory=dict)
    referral_triggers: dict[str, Rule] = Field(default_factory=dict)
    approve_reason: str
    approve_description: str = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _resolve_thresholds(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            return raw
        thresholds = raw.get("thresholds") or {}
        raw = copy.deepcopy(raw)
        for tier in TIERS:
            for code, rule in (raw.get(tier) or {}).items():
                for cond in (rule or {}).get("all") or []:
                    value = cond.get("value") if isinstance(cond, dict) else None
                    if isinstance(value, str) and value.startswith("$"):
                        if value[1:] not in thresholds:
                            raise ValueError(f"{tier}.{code}: threshold {value!r} is not defined in thresholds")
                        cond["value"] = thresholds[value[1:]]
        return raw

    @field_validator("hard_declines", "limits", "referral_triggers")
    @classmethod
    def _codes(cls, rules: dict[str, Rule]) -> dict[str, Rule]:
        bad = [c for c in rules if not REASON_CODE_RE.match(c)]
        if bad:
            raise ValueError(f"reason codes must be UPPER_SNAKE_CASE: {bad}")
        return rules

    @model_validator(mode="after")
    def _declines_have_reasons(self) -> "Policy":
        missing = [code for tier in ("hard_declines", "limits") for code, rule in getattr(self, tier).items()
                   if not rule.reads_score and not rule.applicant_reason]
        if missing:
            raise ValueError(f"decline rules that do not read the score need an applicant_reason: {missing}")
        return self

    @field_validator("approve_reason")
    @classmethod
    def _approve_code(cls, v: str) -> str:
        if not REASON_CODE_RE.match(v):
            raise ValueError("reason codes must be UPPER_SNAKE_CASE")
        return v

    def fired(self, tier: str, facts: Mapping[str, Any]) -> list[str]:
        """Codes of the enabled rules of ``tier`` whose conditions all hold, in file order."""
        return [
            code
            for code, rule in getattr(self, tier).items()
            if rule.enabled and all(c.holds(facts) for c in rule.all)
        ]

    def decide(self, facts: Mapping[str, Any]) -> dict:
        """Walk the decision tree for one application.

        Args:
            facts: :func:`policy_facts`: the application's attributes (categorical ones as corrected
                meanings) plus ``pd_pct`` (percent), ``score_points`` and ``amount_per_month_dm`` (DM).

        Returns:
            ``{"decision": "approve"|"decline"|"refer", "reasons": [codes of the deciding tier],
            "rule_hits": {tier: [codes fired]}, "policy_version": str}``.
        """
        hits = {tier: self.fired(tier, facts) for tier in TIERS}
        for tier in TIERS:
            if hits[tier]:
                return {"decision": TIER_DECISION[tier], "reasons": hits[tier], "rule_hits": hits, "policy_version": self.version}
        return {"decision": "approve", "reasons": [self.approve_reason], "rule_hits": hits, "policy_version": self.version}

    def reason_descriptions(self) -> dict[str, str]:
        """``{reason code: one-sentence wording}`` for every code a policy decision can carry."""
        wording = {code: rule.description for tier in TIERS for code, rule in getattr(self, tier).items()}
        return wording | {self.approve_reason: self.approve_description}

    def applicant_reasons(self, codes: list[str]) -> list[dict]:
        """``[{"code", "text"}]``: the applicant-facing reason of each code that has one, in order."""
        rules = {code: rule for tier in TIERS for code, rule in getattr(self, tier).items()}
        return [{"code": c, "text": rules[c].applicant_reason} for c in codes if c in rules and rules[c].applicant_reason]


def policy_facts(application: Mapping[str, Any], assessment: Mapping[str, Any]) -> dict:
    """The facts a policy reads: the application with corrected meanings, the scorecard's
    ``pd_pct``/``score_points`` and ``amount_per_month_dm`` (the application's, else computed, DM)."""
    facts = {**corrected(application), "pd_pct": assessment["pd_pct"], "score_points": assessment["score_points"]}
    facts.setdefault("amount_per_month_dm", application["credit_amount"] / application["duration_in_month"])
    return facts


def load_policy(overrides: Mapping | None = None) -> Policy:
    """The policy of ``policy.yaml`` with ``overrides`` (an agent spec's ``config``) deep-merged.

    Overrides change keys the file has (a threshold, the population bad rate, a rule's ``enabled``,
    ``description``, ``applicant_reason`` or ``all``) or add a rule to a tier; they cannot add thresholds.

    Raises:
        ValueError: ``overrides`` names a key the file does not have (dotted path in the message).
        pydantic.ValidationError: the merged policy is invalid (see :class:`Policy`); also a ``ValueError``.
    """
    return Policy.model_validate(load_policy_file(POLICY_PATH, overrides, open_keys=OPEN_KEYS))
