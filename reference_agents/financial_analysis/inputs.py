"""The run input of the financial analysis agent (pydantic); errors name the offending field."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from reference_agents.financial_analysis.policy import load_policy
from reference_agents.financial_analysis.tools.market_data import check_request

MAX_TICKERS = 5


class Headline(BaseModel):
    """A dated headline (or short article) about one company.

    Fields: ``text`` (one or more sentences), ``date`` (publication date, ISO), ``ticker`` (the
    company's symbol, upper-cased; any symbol is accepted, only the run's tickers are scored).
    """

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=5000)
    date: date
    ticker: str = Field(min_length=1, max_length=10)

    @field_validator("ticker")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.strip().upper()


class FinancialAnalysisInput(BaseModel):
    """One analysis request.

    Fields: ``tickers`` (1..5 symbols of the data set, a single string is accepted),
    ``start``/``end`` (ISO dates, inclusive; the window must lie inside every ticker's data),
    ``headlines`` (up to 50 :class:`Headline` objects ``{text, date, ticker}``; a headline is
    scored only for its own ticker and only when dated inside ``[start, end]``). A plain string
    is still accepted, for old callers, but never scored: without a date and a company it cannot
    be placed before ``end`` or tied to a ticker (the output lists it under
    ``sentiment.ignored``).

    Raises:
        pydantic.ValidationError: malformed fields, an unknown ticker or a window outside the
            data (the message names the available tickers and date ranges).
    """

    model_config = ConfigDict(extra="forbid")
    tickers: list[str] = Field(min_length=1, max_length=MAX_TICKERS)
    start: date
    end: date
    headlines: list[Headline | Annotated[str, Field(max_length=1000)]] = Field(default_factory=list, max_length=50)

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
