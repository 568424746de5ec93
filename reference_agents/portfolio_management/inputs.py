"""Run input of the portfolio-management agent: holdings and constraints (pydantic).

Tickers and the as-of date are checked against the price data here, so the platform rejects a
bad run before it starts, with an error naming the field and the valid tickers / date range.

The shipped price data holds only split- and dividend-adjusted closes (adjusted as of the data's
end in 2022): AAPL's 2019-12-31 close is 71.71 in it, against 293.65 as traded that day (a 4:1
split in 2020 and the dividends since). They give correct returns but not the value of a number
of shares on the day. So shares are valued, and orders sized, only with ``as_of_prices_usd``,
the as-traded closes the user supplies for the as-of date; share holdings without them are refused.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from reference_agents.portfolio_management.policy import load_policy
from reference_agents.portfolio_management.tools import market_data


def required_history_days(lookback_days: int, technical: dict) -> int:
    """Trading days of history needed before the as-of date: the lookback window, 12-1 momentum,
    and twice the slow moving average (so a crossover can be seen, not just the averages)."""
    return max(lookback_days, technical["momentum_lookback_days"], 2 * technical["sma_slow_days"])


def _normalise_tickers(tickers: list[str]) -> list[str]:
    out = [t.strip().upper() for t in tickers]
    market_data.check_tickers(out)
    return out


class Constraints(BaseModel):
    """Optimisation and trading constraints.

    Fields: ``as_of`` (date; the last trading day on or before it is used), ``objective``
    (``max_sharpe`` | ``min_volatility``), ``weight_min`` / ``weight_max`` (per-asset weight
    bounds, fractions of portfolio value), ``risk_free_rate`` (annual fraction),
    ``lookback_days`` (trading days of returns for risk, optimisation and benchmark),
    ``max_turnover`` (one-way turnover fraction above which a manager must sign off; None:
    the policy default).
    """

    model_config = ConfigDict(extra="forbid")
    as_of: date
    objective: Literal["max_sharpe", "min_volatility"] = "max_sharpe"
    weight_min: float = Field(0.0, ge=0.0, le=1.0)
    weight_max: float = Field(0.35, gt=0.0, le=1.0)
    risk_free_rate: float = Field(0.02, ge=-0.05, le=0.25)
    lookback_days: int = Field(756, ge=60, le=2520)
    max_turnover: float | None = Field(None, gt=0.0, le=1.0)

    @model_validator(mode="after")
    def _check(self) -> "Constraints":
        if self.weight_min > self.weight_max:
            raise ValueError(f"weight_min {self.weight_min} exceeds weight_max {self.weight_max}")
        history = required_history_days(self.lookback_days, load_policy()["technical"])
        market_data.as_of_position(self.as_of, history)
        return self


class PortfolioInput(BaseModel):
    """One run: current holdings, optional candidate tickers, constraints.

    Fields: ``holdings`` (ticker -> shares, or -> weight fraction when ``holdings_basis`` is
    ``weights``), ``cash_usd`` (shares basis only; with weights the cash is ``1 - sum(weights)``),
    ``portfolio_value_usd`` (required with weights), ``candidates`` (tickers the optimiser may
    buy besides the holdings; an all-cash portfolio gives only candidates), ``as_of_prices_usd``
    (ticker -> closing price as traded on the as-of date, USD, not adjusted; required for every
    holding and candidate with the shares basis; optional with weights, where it turns the
    USD orders into whole-share orders), ``constraints``.
    """

    model_config = ConfigDict(extra="forbid")
    holdings: dict[str, float] = Field(default_factory=dict)
    holdings_basis: Literal["shares", "weights"] = "shares"
    cash_usd: float = Field(0.0, ge=0.0)
    portfolio_value_usd: float | None = Field(None, gt=0.0)
    candidates: list[str] = Field(default_factory=list)
    as_of_prices_usd: dict[str, float] | None = None
    constraints: Constraints

    @field_validator("holdings")
    @classmethod
    def _holdings(cls, v: dict[str, float]) -> dict[str, float]:
        tickers = _normalise_tickers(list(v))
        if len(set(tickers)) != len(tickers):
            raise ValueError("a ticker is listed twice")
        negative = [t for t, x in zip(tickers, v.values()) if x < 0]
        if negative:
            raise ValueError(f"short positions are not supported: {negative}")
        return dict(zip(tickers, (float(x) for x in v.values())))

    @field_validator("candidates")
    @classmethod
    def _candidates(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(_normalise_tickers(v)))

    @field_validator("as_of_prices_usd")
    @classmethod
    def _prices(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        if v is None:
            return None
        tickers = _normalise_tickers(list(v))
        bad = [t for t, p in zip(tickers, v.values()) if not p > 0]
        if bad:
            raise ValueError(f"as_of_prices_usd must be positive prices: {bad}")
        return dict(zip(tickers, (float(p) for p in v.values())))

    @model_validator(mode="after")
    def _check(self) -> "PortfolioInput":
        if self.holdings_basis == "weights":
            if self.portfolio_value_usd is None:
                raise ValueError("portfolio_value_usd is required when holdings_basis is 'weights'")
            if self.cash_usd:
                raise ValueError("cash_usd must be 0 with holdings_basis 'weights' (cash is 1 - sum of weights)")
            total = sum(self.holdings.values())
            if total > 1.0 + 1e-9:
                raise ValueError(f"holdings weights sum to {total:.6f} > 1")
        elif sum(self.holdings.values()) <= 0 and self.cash_usd <= 0:
            raise ValueError("the portfolio holds no shares and no cash")
        n = len(self.universe)
        if n == 0:
            raise ValueError("holdings and candidates are both empty: no asset to invest in")
        self._check_prices()
        c = self.constraints
        if n * c.weight_min > 1.0 + 1e-12 or n * c.weight_max < 1.0 - 1e-12:
            raise ValueError(
                f"constraints.weight_min/weight_max [{c.weight_min}, {c.weight_max}] cannot make a fully "
                f"invested portfolio of the {n} assets in holdings + candidates"
            )
        return self

    def _check_prices(self) -> None:
        prices = self.as_of_prices_usd
        if prices is None:
            if self.holdings_basis == "shares" and any(self.holdings.values()):
                raise ValueError(
                    "as_of_prices_usd is required with holdings_basis 'shares': the price data holds only "
                    "split- and dividend-adjusted closes (AAPL 71.71 on 2019-12-31 against 293.65 as traded), "
                    "which cannot value shares; give each holding's and candidate's closing price as traded on "
                    "the as-of date, or give the holdings as weights with portfolio_value_usd")
            return
        missing = [t for t in self.universe if t not in prices]
        if missing:
            raise ValueError(f"as_of_prices_usd has no as-traded price for {missing} (every holding and candidate needs one)")
        extra = sorted(set(prices) - set(self.universe))
        if extra:
            raise ValueError(f"as_of_prices_usd names {extra}, which are neither holdings nor candidates")

    @property
    def universe(self) -> list[str]:
        """Holdings then candidates, without repeats: the assets the optimiser may hold."""
        return list(dict.fromkeys([*self.holdings, *self.candidates]))

