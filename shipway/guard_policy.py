"""What a run's guards do with each kind of personal data, per agent: the ``guard`` section of the
spec, with defaults by data classification.

For every PII entity the policy says, separately for a run's input and its output, ``allow`` (pass
it), ``redact`` (replace it by ``<ENTITY>`` with presidio-anonymizer before the graph sees it, or
before the output leaves) or ``block`` (refuse the run / withhold the output). ``topics`` are what
the agent is for; the off-topic rail compares the text of a run's request fields with them.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class PiiAction(StrEnum):
    """What a guard does with one entity found in a text."""

    ALLOW = "allow"
    REDACT = "redact"
    BLOCK = "block"


# The entities Shipway's PII layer finds: Presidio's own recognizers and Shipway's financial ones.
FINANCIAL_IDENTIFIERS = ("CREDIT_CARD", "IBAN_CODE", "US_BANK_NUMBER", "ABA_ROUTING_NUMBER", "SWIFT_BIC_CODE", "BANK_ACCOUNT")
GOVERNMENT_IDENTIFIERS = ("US_SSN", "US_EIN", "US_PASSPORT", "US_DRIVER_LICENSE")
SECURITY_IDENTIFIERS = ("CUSIP", "ISIN")  # identify securities, not people: allowed unless a policy says otherwise
CONTACT = ("EMAIL_ADDRESS", "PHONE_NUMBER")
NAMES_AND_PLACES = ("PERSON", "LOCATION")  # found by spaCy NER when a model is installed
ENTITIES = (*FINANCIAL_IDENTIFIERS, *GOVERNMENT_IDENTIFIERS, *SECURITY_IDENTIFIERS, *CONTACT, *NAMES_AND_PLACES)


def _policy(financial: PiiAction, government: PiiAction, contact: PiiAction, names: PiiAction) -> dict[str, PiiAction]:
    out = {e: financial for e in FINANCIAL_IDENTIFIERS} | {e: government for e in GOVERNMENT_IDENTIFIERS}
    out |= {e: contact for e in CONTACT} | {e: names for e in NAMES_AND_PLACES}
    return out | {e: PiiAction.ALLOW for e in SECURITY_IDENTIFIERS}


A, R, B = PiiAction.ALLOW, PiiAction.REDACT, PiiAction.BLOCK
# Defaults by the spec's data_classification. The more sensitive the data an agent is approved
# for, the more personal data it may take in; what may leave it only gets stricter.
DEFAULTS: dict[str, dict[str, dict[str, PiiAction]]] = {
    "public": {"input": _policy(B, B, B, R), "output": _policy(B, B, B, R)},
    "internal": {"input": _policy(R, B, R, A), "output": _policy(B, B, R, A)},
    "confidential": {"input": _policy(R, R, A, A), "output": _policy(R, R, R, A)},
    "restricted": {"input": _policy(A, A, A, A), "output": _policy(R, R, R, A)},
}


# Input fields that carry a request to the agent (chat messages, a question), not data: only these
# are judged against the agent's topics. A name, an address or a news headline is data about
# anything; calling it "off topic" would block legitimate runs.
REQUEST_FIELDS = ("messages", "message", "question", "query", "prompt", "request", "instruction", "instructions")


class GuardSpec(BaseModel):
    """The ``guard`` section of an agent spec: overrides of the classification's defaults, per
    entity, on input and on output, and the agent's topics."""

    model_config = ConfigDict(extra="forbid")
    topics: list[str] = Field(default_factory=list, description="What the agent is for, in a few words each.")
    request_fields: list[str] = Field(default_factory=lambda: list(REQUEST_FIELDS), description=(
        "Input fields (at any depth) whose text is a request to the agent; the off-topic rail reads only these."))
    input: dict[str, PiiAction] = Field(default_factory=dict)
    output: dict[str, PiiAction] = Field(default_factory=dict)
    public_entities: list[str] = Field(default_factory=list, description=(
        "Entities the agent produces from its own reference data (e.g. names on a sanctions list): an "
        "output may carry them although the run's input did not."))


class GuardPolicy(BaseModel):
    """The effective policy of one agent version: every entity's action on input and output, the
    entities its output may carry without their being in the input, and its topics."""

    input: dict[str, PiiAction]
    output: dict[str, PiiAction]
    topics: list[str]
    public_entities: list[str] = []
    request_fields: list[str] = list(REQUEST_FIELDS)
    description: str = ""


def effective_policy(spec: dict) -> GuardPolicy:
    """The policy of a validated spec: its classification's defaults with its ``guard`` overrides.

    Raises:
        pydantic.ValidationError: the ``guard`` section is malformed.
    """
    guard = GuardSpec.model_validate(spec.get("guard") or {})
    base = DEFAULTS[spec.get("data_classification", "internal")]
    return GuardPolicy(input=base["input"] | guard.input, output=base["output"] | guard.output, topics=guard.topics,
                       public_entities=guard.public_entities, request_fields=guard.request_fields,
                       description=spec.get("description", ""))
