"""The run input of the Compliance Monitoring agent (pydantic); errors name the offending field."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

TRANSACTION_TYPES = ("cash_deposit", "cash_withdrawal", "wire", "ach", "card", "check", "internal_transfer")


class Transaction(BaseModel):
    """One booked transaction of the customer's account.

    ``amount_usd`` is positive; ``direction`` says credit (``in``) or debit (``out``);
    ``counterparty_country`` is ISO 3166-1 alpha-2 (upper-cased here). A timestamp without
    an offset is taken as UTC.
    """

    model_config = ConfigDict(extra="forbid")
    transaction_id: str = Field(min_length=1, max_length=64)
    timestamp: datetime
    amount_usd: float = Field(gt=0, le=1e12)
    direction: Literal["in", "out"]
    type: Literal[TRANSACTION_TYPES]
    counterparty_country: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")

    @field_validator("counterparty_country")
    @classmethod
    def _upper(cls, v: str | None) -> str | None:
        return v.upper() if v else v


class ComplianceInput(BaseModel):
    """One screening + monitoring request.

    ``name`` is screened against the watchlists (any script); ``party_type`` restricts the
    screening to individuals or entities when known; ``date_of_birth`` (``YYYY`` or
    ``YYYY-MM-DD``) and ``nationality`` are secondary identifiers shown to the analyst;
    ``transactions`` (may be empty) are monitored.

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

