"""Run input of the fraud agent: one card transaction (bare or inside an upstream alert) with
the customer's recent history.

Amounts are in the cardholder's billing currency (the currency the issuer posts to the
account), so one customer's history is comparable; money limits of the policy are in US dollars
and converted with the shipped rate table (``fx.py``). Coordinates are WGS84 degrees of where
the transaction happened (terminal for card-present and ATM, device geolocation for e-commerce,
the merchant's location for mail/phone orders): only the first two say where the card is.

Channels: ``card_present`` (point of sale, chip/contactless/swipe), ``atm`` (cash withdrawal),
``card_not_present`` (e-commerce, from a device) and ``mail_phone_order`` (card details given by
mail or telephone, no device).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from reference_agents.fraud_detection.fx import RATE_FILE, rate_currencies
from reference_agents.fraud_detection.reference_data import country_currency, currency_codes, mcc_descriptions

Channel = Literal["card_present", "card_not_present", "mail_phone_order", "atm"]
AccountEventType = Literal["password_reset", "email_change", "phone_change", "address_change", "login"]


class Transaction(BaseModel):
    """One card authorisation.

    Fields: ``amount`` > 0 in ``currency`` (ISO 4217, the billing currency, one the rate table
    ``data/fx_rates_nbp_2024-02-28.csv`` has, so money limits can be applied); ``mcc`` an ISO 18245
    merchant category code; ``merchant_country`` ISO 3166 alpha-2; ``latitude`` in [-90, 90] and
    ``longitude`` in [-180, 180] degrees; ``timestamp`` timezone-aware ISO 8601; ``device_id`` the
    device fingerprint for e-commerce, else null.
    """

    model_config = ConfigDict(extra="forbid")
    transaction_id: str = Field(min_length=1, max_length=64)
    customer_id: str = Field(min_length=1, max_length=64)
    timestamp: AwareDatetime
    amount: float = Field(gt=0, allow_inf_nan=False, description="billing amount, major currency units")
    currency: str = Field(description="ISO 4217 alphabetic code of the billing currency")
    merchant_id: str = Field(min_length=1, max_length=64)
    mcc: str = Field(description="ISO 18245 merchant category code, 4 digits")
    merchant_country: str = Field(description="ISO 3166-1 alpha-2")
    channel: Channel
    latitude: float = Field(ge=-90, le=90, description="WGS84 degrees")
    longitude: float = Field(ge=-180, le=180, description="WGS84 degrees")
    device_id: str | None = Field(default=None, max_length=128)

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        if v not in currency_codes():
            raise ValueError(f"{v!r} is not an ISO 4217 currency code in use (e.g. 'EUR', 'USD')")
        if v not in rate_currencies():
            raise ValueError(f"{v!r} has no exchange rate in data/{RATE_FILE}, so the policy's money limits cannot apply")
        return v

    @field_validator("mcc")
    @classmethod
    def _mcc(cls, v: str) -> str:
        if v not in mcc_descriptions():
            raise ValueError(f"{v!r} is not an ISO 18245 merchant category code (4 digits, e.g. '5411')")
        return v

    @field_validator("merchant_country")
    @classmethod
    def _country(cls, v: str) -> str:
        if v not in country_currency():
            raise ValueError(f"{v!r} is not an ISO 3166-1 alpha-2 country code (e.g. 'DE')")
        return v

    @field_validator("latitude", "longitude")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("must be a finite number of degrees")
        return v


class AccountEvent(BaseModel):
    """An account-security event of the customer (e.g. a password reset), ``timestamp`` tz-aware."""

    model_config = ConfigDict(extra="forbid")
    type: AccountEventType
    timestamp: AwareDatetime
    device_id: str | None = None


class UpstreamAlert(BaseModel):
    """An alert raised by an upstream system (rules engine, card scheme) about one transaction."""

    model_config = ConfigDict(extra="forbid")
    alert_id: str = Field(min_length=1, max_length=64)
    source_system: str = Field(min_length=1, max_length=64)
    rule_code: str | None = Field(default=None, max_length=64)
    transaction: Transaction


class FraudCaseInput(BaseModel):
    """One run: the transaction to assess (``transaction``, or ``alert.transaction``; exactly one),
    up to 500 prior transactions of the same customer in ``history`` (all strictly earlier) and the
    customer's ``account_events``.

    Raises (on ``model_validate``): ``pydantic.ValidationError`` naming the offending field.
    """

    model_config = ConfigDict(extra="forbid")
    transaction: Transaction | None = None
    alert: UpstreamAlert | None = None
    history: list[Transaction] = Field(default_factory=list, max_length=500)
    account_events: list[AccountEvent] = Field(default_factory=list, max_length=500)

    @model_validator(mode="after")
    def _consistent(self) -> FraudCaseInput:
        if (self.transaction is None) == (self.alert is None):
            raise ValueError("give exactly one of 'transaction' or 'alert' (with alert.transaction)")
        txn = self.subject
        for i, past in enumerate(self.history):
            if past.customer_id != txn.customer_id:
                raise ValueError(f"history[{i}].customer_id {past.customer_id!r} is not the transaction's customer")
            if past.currency != txn.currency:
                raise ValueError(
                    f"history[{i}].currency {past.currency!r} is not the billing currency {txn.currency!r}"
                )
            if past.timestamp >= txn.timestamp:
                raise ValueError(f"history[{i}].timestamp is not before the transaction's timestamp")
        return self

    @property
    def subject(self) -> Transaction:
        """The transaction under assessment, bare or taken from the upstream alert."""
        return self.transaction if self.transaction is not None else self.alert.transaction
