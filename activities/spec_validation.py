"""Lifecycle step ``validate``: the spec against :class:`shipway.spec.AgentSpec` and the template registry."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from reference_agents.registry import UnknownTemplateError, get_agent
from shipway.spec import SpecError, parse_spec
from workflows.types import VALIDATE_SPEC, ValidateSpecInput, ValidateSpecResult


@activity.defn(name=VALIDATE_SPEC)
async def validate_spec(inp: ValidateSpecInput) -> ValidateSpecResult:
    """Validate a submitted spec; returns the normalised spec (defaults filled in).

    Raises:
        ApplicationError (non-retryable, type ``SpecError``): message names each bad field,
            ``details[0]`` is the list of ``[field, message]``.
    """
    try:
        spec = parse_spec(inp.spec)
        if spec.name != inp.name:
            raise SpecError([("name", f"does not match the submitted agent name {inp.name!r}")])
        if spec.template is not None:
            try:
                get_agent(spec.template)
            except UnknownTemplateError as exc:
                raise SpecError([("template", str(exc))]) from exc
    except SpecError as exc:
        raise ApplicationError(f"invalid spec: {exc}", [list(e) for e in exc.errors], type="SpecError", non_retryable=True) from exc
    return ValidateSpecResult(spec=spec.model_dump(mode="json"))
