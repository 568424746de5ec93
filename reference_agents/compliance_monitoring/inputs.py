"""The run input of the Compliance Monitoring agent (pydantic); errors name the offending field."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

TRANSACTION_TYPES = ("cash_deposit", "cash_withdrawal", "wire", "ach", "card", "check", "internal_transfer")


class Transaction(BaseModel):
    """One booked transaction of the customer's account.

    ``amount_usd`` is positive; ``direction`` says credit (``in``) or debit (``out``), and a
    ``cash_deposit`` is a credit, a ``cash_withdrawal`` a debit; ``counterparty_name`` (any
    script) is screened against the watchlists like the customer; ``counterparty_country`` is
    ISO 3166-1 alpha-2 and ``counterparty_subdivision`` ISO 3166-2 (e.g. ``UA-43``), both
    upper-cased here. A timestamp without an offset is taken as UTC.
    """

    model_config = ConfigDict(extra="forbid")
    transaction_id: str = Field(min_length=1, max_length=64)
    timestamp: datetime
    amount_usd: float = Field(gt=0, le=1e12)
    direction: Literal["in", "out"]
    type: Literal[TRANSACTION_TYPES]
    counterparty_name: str | None = Field(default=None, max_length=300)
    counterparty_country: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")
    counterparty_subdivision: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}-[A-Za-z0-9]{1,3}$")

    @field_validator("counterparty_country", "counterparty_subdivision")
    @classmethod
    def _upper(cls, v: str | None) -> str | None:
        return v.upper() if v else v

    @field_validator("counterparty_name")
    @classmethod
    def _blank_name(cls, v: str | None) -> str | None:
        v = " ".join(v.split()) if v else v
        return v if v and sum(ch.isalnum() for ch in v) >= 2 else None

    @model_validator(mode="after")
    def _cash_direction(self) -> Transaction:
        expected = {"cash_deposit": "in", "cash_withdrawal": "out"}.get(self.type)
        if expected and self.direction != expected:
            raise ValueError(f"direction: a {self.type} is direction {expected!r}, got {self.direction!r}")
        return self


class ComplianceInput(BaseModel):
    """One screening + monitoring request.

    ``name`` is screened against the watchlists (any script); ``party_type`` restricts the
    screening to individuals or entities when known; ``date_of_birth`` (``YYYY`` or
    ``YYYY-MM-DD``) and ``nationality`` (ISO 3166-1 alpha-2 code, country name or demonym; an
    entity's country of registration) are secondary identifiers that raise or lower a match;
    ``transactions`` (may be empty) are monitored, and their counterparties screened.

    Raises:
        pydantic.ValidationError: a malformed field (named in the error), a name without two
            letters or digits, or a repeated ``transaction_id``.
    """

    model_config = ConfigDict(extra="forbid")
    customer_id: str | None = Field(default=None, max_length=64)
    name: str = Field(max_length=300)
    party_type: Literal["individual", "entity"] | None = None
    date_of_birth: str | None = Field(default=None, pattern=r"^\d{4}(-\d{2}-\d{2})?$")
    nationality: str | None = Field(default=None, max_length=100)
    transactions: list[Transaction] = Field(default_factory=list, max_length=10000)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = " ".join(v.split())
        if sum(ch.isalnum() for ch in v) < 2:
            raise ValueError("must contain at least two letters or digits")
        return v

    @model_validator(mode="after")
    def _unique_ids(self) -> ComplianceInput:
        ids = [t.transaction_id for t in self.transactions]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"transactions: duplicate transaction_id {', '.join(dupes)}")
        return self

    @field_validator("nationality")
    @classmethod
    def _code_upper(cls, v: str | None) -> str | None:
        v = " ".join(v.split()) if v else None
        return v.upper() if v and len(v) == 2 else v

