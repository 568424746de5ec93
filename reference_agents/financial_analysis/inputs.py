"""The run input of the financial analysis agent (pydantic); errors name the offending field."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from reference_agents.financial_analysis.policy import load_policy
from reference_agents.financial_analysis.tools.market_data import check_request

MAX_TICKERS = 5


class FinancialAnalysisInput(BaseModel):
    """One analysis request.

    Fields: ``tickers`` (1..5 symbols of the data set, a single string is accepted),
    ``start``/``end`` (ISO dates, inclusive; the window must lie inside every ticker's data),
    ``headlines`` (optional short texts about the tickers, up to 50), ``text`` (optional
    longer text, split into sentences). The supplied text is scored once and applies to
    every ticker.

    Raises:
        pydantic.ValidationError: malformed fields, an unknown ticker or a window outside the
            data (the message names the available tickers and date ranges).
    """

    model_config = ConfigDict(extra="forbid")
    tickers: list[str] = Field(min_length=1, max_length=MAX_TICKERS)
    start: date
    end: date
    headlines: list[Annotated[str, Field(max_length=1000)]] = Field(default_factory=list, max_length=50)
    text: str | None = Field(default=None, max_length=20_000)

    @field_validator("tickers", mode="before")
    @classmethod
    def _tickers(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            value = list(dict.fromkeys(v.strip().upper() if isinstance(v, str) else v for v in value))
        return value

    @model_validator(mode="after")
    def _covered(self) -> FinancialAnalysisInput:
        min_days = load_policy()["data"]["min_window_trading_days"]
        for ticker in self.tickers:
            check_request(ticker, self.start, self.end, min_days)
        return self
