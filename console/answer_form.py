"""The answer form of an interrupted run, built from its pending request alone.

Every interrupt payload is a :class:`~reference_agents.common.hitl.InterruptRequest`: the allowed
``decisions`` and the JSON Schema of a valid answer (``answer_schema``). The form has one submit
button per decision and one empty input per other property of the schema: a choice with an empty
first option for ``enum`` / ``const`` properties, text otherwise. Inputs left empty are left out of
the answer, so the schema (not the console) says what is missing. No Streamlit here: the Runs page
renders the fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from pydantic import ValidationError

from reference_agents.common.hitl import InterruptRequest, validation_message

DECISION = "decision"  # the answer property set by the button pressed


@dataclass(frozen=True)
class AnswerField:
    """One input of the form, for the answer property ``name``.

    Attributes:
        title: the schema's title of the property (its name when it has none).
        required: the schema requires the property.
        choices: the allowed values of an ``enum`` / ``const`` property (null excluded: an empty
            choice leaves the property out); empty for free text.
        parse_json: the property takes no strings (e.g. a number), so the text is read as JSON.
        help: the schema's description.
    """

    name: str
    title: str
    required: bool
    choices: tuple[Any, ...] = ()
    parse_json: bool = False
    help: str = ""

    @property
    def label(self) -> str:
        """The title, marked when the property is required."""
        return f"{self.title} (required)" if self.required else self.title


def read_request(payload: Any) -> InterruptRequest:
    """The pending request of a run (``runs.interrupt``).

    Raises:
        ValueError: the payload is not an :class:`InterruptRequest` (the message names each field),
            or it allows no decision (the form would have no button).
    """
    try:
        request = InterruptRequest.model_validate(payload)
    except ValidationError as exc:
        raise ValueError(validation_message(exc)) from exc
    if not request.decisions:
        raise ValueError("decisions: the request allows no decision")
    return request


def answer_fields(schema: Mapping[str, Any]) -> list[AnswerField]:
    """The inputs for ``schema``'s properties other than ``decision``, in the schema's order."""
    required = set(schema.get("required") or ())
    fields = []
    for name, raw in (schema.get("properties") or {}).items():
        if name == DECISION:
            continue
        prop = _resolve(schema, raw)
        branches = [_resolve(schema, b) for b in prop.get("anyOf") or prop.get("oneOf") or [prop]]
        choices = tuple(c for b in branches for c in _choices(b))
        types = {t for b in branches for t in _types(b)}
        fields.append(AnswerField(name=name, title=str(prop.get("title") or name), required=name in required, choices=choices,
                                  parse_json=not choices and bool(types) and "string" not in types,
                                  help=str(prop.get("description") or "")))
    return fields


def build_answer(fields: list[AnswerField], decision: str, entries: Mapping[str, Any]) -> dict[str, Any]:
    """The answer for ``decision`` from the operator's ``entries`` (``{field name: text or chosen value}``).

    Text is stripped; empty text and empty choices (``None``) are left out.
    """
    answer: dict[str, Any] = {DECISION: decision}
    for f in fields:
        value = entries.get(f.name)
        if isinstance(value, str):
            value = value.strip()
            if value and f.parse_json:
                value = _json_or_text(value)
        if value is not None and value != "":
            answer[f.name] = value
    return answer


def answer_errors(schema: Mapping[str, Any], answer: Mapping[str, Any]) -> dict[str, str]:
    """Where ``answer`` breaks ``schema``: ``{property name: message}`` (``""`` for the answer as a
    whole); empty when the answer is valid."""
    errors: dict[str, list[str]] = {}
    for e in Draft202012Validator(schema).iter_errors(dict(answer)):
        if e.absolute_path:
            names, message = [str(e.absolute_path[0])], e.message
        elif e.validator == "required":
            names, message = [n for n in e.validator_value if n not in e.instance], "required"
        else:
            names, message = [""], e.message
        for name in names:
            if message not in errors.setdefault(name, []):
                errors[name].append(message)
    return {name: "; ".join(messages) for name, messages in errors.items()}


def _resolve(root: Mapping[str, Any], node: Mapping[str, Any]) -> dict[str, Any]:
    # pydantic puts enum classes and nested models under "$defs" and points at them with "$ref"
    ref = node.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return dict(node)
    target: Any = root
    for part in ref[2:].split("/"):
        target = target[part]
    return {**target, **{k: v for k, v in node.items() if k != "$ref"}}


def _choices(branch: Mapping[str, Any]) -> list[Any]:
    values = branch["enum"] if "enum" in branch else [branch["const"]] if "const" in branch else []
    return [v for v in values if v is not None]


def _types(branch: Mapping[str, Any]) -> list[str]:
    declared = branch.get("type")
    return [declared] if isinstance(declared, str) else list(declared or ())


def _json_or_text(text: str) -> Any:
    # not JSON: keep the text, and let the schema say what the property takes
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
