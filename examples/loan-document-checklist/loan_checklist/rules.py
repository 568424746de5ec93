"""The declarative document checklist (``checklist.yaml``): loading, validation, evaluation.

The checklist is data, not code: a compliance reviewer reads and changes ``checklist.yaml``; this
module refuses a file it could misread (an unknown attribute, category string, threshold or
document; a rule on a protected attribute) instead of silently never firing a rule.
"""

from __future__ import annotations

import copy
import operator
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from loan_checklist.attributes import PROTECTED_ATTRIBUTES, categories, numeric_attributes

CHECKLIST_PATH = Path(__file__).resolve().parent / "checklist.yaml"
VERSION_ENV = "CHECKLIST_VERSION"

_CATEGORY_OPS = {"eq", "ne", "in", "not_in"}
_NUMBER_OPS = {"gt": operator.gt, "ge": operator.ge, "lt": operator.lt, "le": operator.le}


class ChecklistError(ValueError):
    """``checklist.yaml`` is malformed; the message names the rule and field at fault."""


class ChecklistVersionWarning(UserWarning):
    """The ``CHECKLIST_VERSION`` environment variable differs from the version of ``checklist.yaml``."""


class Condition(BaseModel):
    """One comparison of an application attribute with a value (``"$name"``: a threshold)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    field: str
    op: Literal["eq", "ne", "in", "not_in", "gt", "ge", "lt", "le"]
    value: Any

    def holds(self, application: Mapping[str, Any]) -> bool:
        """Whether the condition holds for ``application`` (attribute name -> value)."""
        actual = application[self.field]
        if self.op == "eq":
            return actual == self.value
        if self.op == "ne":
            return actual != self.value
        if self.op == "in":
            return actual in self.value
        if self.op == "not_in":
            return actual not in self.value
        return _NUMBER_OPS[self.op](actual, self.value)


class Rule(BaseModel):
    """A checklist rule: when its conditions hold, the application needs the ``require``d documents."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    code: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$", description="Reason code carried by each required document.")
    text: str = Field(min_length=1, description="The rule as the officer and the applicant read it.")
    require: list[str] = Field(min_length=1, description="Document codes from the catalogue.")
    high_scrutiny: bool = False
    all_of: list[Condition] = Field(default_factory=list, alias="all")
    any_of: list[Condition] = Field(default_factory=list, alias="any")

    def applies(self, application: Mapping[str, Any]) -> bool:
        """All ``all`` conditions hold and, if there are ``any`` conditions, at least one of them."""
        return (all(c.holds(application) for c in self.all_of)
                and (not self.any_of or any(c.holds(application) for c in self.any_of)))


class Reason(BaseModel):
    """Why a document is required: the rule's reason code and text."""

    code: str
    text: str


class RequiredDocument(BaseModel):
    """A document the officer must collect, with every rule that requires it.

    ``high_scrutiny`` is true when any of those rules is a high-scrutiny rule.
    """

    code: str
    title: str
    high_scrutiny: bool
    reasons: list[Reason]


class Checklist(BaseModel):
    """The whole ``checklist.yaml``: version, thresholds, document catalogue (code -> title), rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: str = Field(min_length=1)
    thresholds: dict[str, float] = Field(default_factory=dict)
    documents: dict[str, str] = Field(min_length=1)
    rules: list[Rule] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _resolve_thresholds(cls, data: Any) -> Any:
        # "$name" values are replaced before validation, so evaluation only ever sees numbers.
        if not isinstance(data, dict):
            return data
        data = copy.deepcopy(data)  # never rewrite the caller's dict
        thresholds = data.get("thresholds") or {}
        for rule in data.get("rules") or []:
            for key in ("all", "any"):
                for cond in (rule.get(key) or []) if isinstance(rule, dict) else []:
                    value = cond.get("value") if isinstance(cond, dict) else None
                    if isinstance(value, str) and value.startswith("$"):
                        if value[1:] not in thresholds:
                            raise ValueError(f"rule {rule.get('code')}: unknown threshold {value}")
                        cond["value"] = thresholds[value[1:]]
        return data

    @model_validator(mode="after")
    def _check_references(self) -> Checklist:
        cats, numbers = categories(), set(numeric_attributes())
        seen: set[str] = set()
        for rule in self.rules:
            where = f"rule {rule.code}"
            if rule.code in seen:
                raise ValueError(f"{where}: duplicate rule code")
            seen.add(rule.code)
            for doc in rule.require:
                if doc not in self.documents:
                    raise ValueError(f"{where}: require: unknown document {doc!r}")
            for cond in [*rule.all_of, *rule.any_of]:
                _check_condition(where, cond, cats, numbers)
        unused = set(self.documents) - {d for r in self.rules for d in r.require}
        if unused:
            raise ValueError(f"documents: no rule requires {', '.join(sorted(unused))}")
        return self

    def evaluate(self, application: Mapping[str, Any]) -> tuple[list[RequiredDocument], list[Reason]]:
        """The documents ``application`` needs and the high-scrutiny rules that fired.

        Args:
            application: attribute name -> value (the German Credit field names; protected
                attributes may be absent: no rule reads them).

        Returns:
            ``(documents, high_scrutiny_reasons)``: documents in catalogue order, each once with
            the reasons of every rule that requires it; the code and text of each high-scrutiny
            rule that fired, in file order (empty: no officer review is needed).

        Raises:
            KeyError: ``application`` lacks an attribute a rule reads.
        """
        fired = [rule for rule in self.rules if rule.applies(application)]
        documents = []
        for code, title in self.documents.items():  # dicts keep the file's order
            by = [rule for rule in fired if code in rule.require]
            if by:
                documents.append(RequiredDocument(
                    code=code, title=title, high_scrutiny=any(r.high_scrutiny for r in by),
                    reasons=[Reason(code=r.code, text=r.text) for r in by]))
        scrutiny = [Reason(code=r.code, text=r.text) for r in fired if r.high_scrutiny]
        return documents, scrutiny


def _check_condition(where: str, cond: Condition, cats: dict[str, tuple[str, ...]], numbers: set[str]) -> None:
    if cond.field in PROTECTED_ATTRIBUTES:
        raise ValueError(f"{where}: {cond.field} is a protected attribute and may not drive a rule")
    if cond.field in cats:
        if cond.op not in _CATEGORY_OPS:
            raise ValueError(f"{where}: {cond.field} is categorical; op {cond.op} needs a number")
        values = cond.value if cond.op in ("in", "not_in") else [cond.value]
        if not isinstance(values, list) or not values:
            raise ValueError(f"{where}: op {cond.op} on {cond.field} needs a non-empty list of categories")
        unknown = [v for v in values if v not in cats[cond.field]]
        if unknown:
            raise ValueError(f"{where}: {cond.field} has no category {unknown[0]!r}; "
                             f"allowed: {', '.join(map(repr, cats[cond.field]))}")
    elif cond.field in numbers:
        if cond.op not in _NUMBER_OPS or isinstance(cond.value, bool) or not isinstance(cond.value, (int, float)):
            raise ValueError(f"{where}: {cond.field} is numeric; use gt/ge/lt/le with a number")
    else:
        raise ValueError(f"{where}: unknown attribute {cond.field!r}")


def load_checklist(path: Path = CHECKLIST_PATH) -> Checklist:
    """Read and validate a checklist file.

    Warns (``ChecklistVersionWarning``) when the ``CHECKLIST_VERSION`` environment variable is set
    and differs from the file's ``version``: the file is what is applied and what every result
    reports. Not an error, because environment variables are process-wide and a worker hosting two
    versions of this graph (a canary and its stable version) sees only one value.

    Raises:
        ChecklistError: the file is not YAML or breaks the rules above; the message names the
            rule and field at fault.
    """
    try:
        checklist = Checklist.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (yaml.YAMLError, ValidationError, ValueError) as exc:
        raise ChecklistError(f"{path.name}: {exc}") from exc
    expected = os.environ.get(VERSION_ENV)
    if expected and expected != checklist.version:
        warnings.warn(f"{VERSION_ENV}={expected} but {path.name} is version {checklist.version}; "
                      f"applying {checklist.version}", ChecklistVersionWarning, stacklevel=2)
    return checklist


# Loaded once at import, so a malformed checklist stops the graph from loading (langgraph dev,
# Shipway's build step) instead of failing runs.
CHECKLIST = load_checklist()
