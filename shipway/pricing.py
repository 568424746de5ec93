"""Prices of LLM calls: list prices per model with the dates they apply (``model_prices.yaml``, per
million tokens), the price in effect on a day, and the price of one call.

The ``model_prices`` table is seeded from the file by ``shipway migrate`` and edited by admins
(:mod:`shipway.price_book`). Date ranges are whole days, both ends inclusive, ``effective_to``
``None`` meaning open. Calls are priced in US dollars: a price in another currency is kept for
reference but prices nothing (Shipway has no exchange rates).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol, TypeVar

import yaml

PRICES_FILE = Path(__file__).with_name("model_prices.yaml")
PRICING_CURRENCY = "USD"
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")


class Dated(Protocol):
    """A price row with a date range (a :class:`ListPrice` or a ``model_prices`` row)."""

    model: str
    effective_from: date
    effective_to: date | None


D = TypeVar("D", bound=Dated)


@dataclass(frozen=True)
class ListPrice:
    """One price of the price file: per million input / output tokens in ``currency``, in effect from
    ``effective_from`` to ``effective_to`` (inclusive; None = open), read from ``source`` (a URL) on
    ``source_date``."""

    provider: str
    model: str
    input_usd_per_mtok: float
    output_usd_per_mtok: float
    currency: str
    effective_from: date
    effective_to: date | None
    source: str
    source_date: date


def covers(row: Dated, day: date) -> bool:
    """Whether ``row``'s date range contains ``day``."""
    return row.effective_from <= day and (row.effective_to is None or day <= row.effective_to)


def ranges_overlap(a_from: date, a_to: date | None, b_from: date, b_to: date | None) -> bool:
    """Whether two inclusive day ranges (``None`` end = open) share a day."""
    return (a_to is None or b_from <= a_to) and (b_to is None or a_from <= b_to)


def overlapping(rows: Iterable[D]) -> list[tuple[D, D]]:
    """Pairs of rows of the same model whose date ranges overlap (``[]`` for a valid table)."""
    by_model: dict[str, list[D]] = {}
    for row in rows:
        by_model.setdefault(row.model, []).append(row)
    return [(a, b) for same in by_model.values() for i, a in enumerate(same) for b in same[i + 1:]
            if ranges_overlap(a.effective_from, a.effective_to, b.effective_from, b.effective_to)]


def in_effect(rows: Iterable[D], day: date) -> dict[str, D]:
    """``{model: the row in effect on day}``; models with no row covering ``day`` are absent."""
    return {row.model: row for row in rows if covers(row, day)}


def price_table(rows: Iterable, day: date) -> dict[str, tuple[float, float]]:
    """The US-dollar prices in effect on ``day``: ``{model: (input, output per million tokens)}``, as
    :func:`price_usd` takes them. Rows in another currency are left out (they price nothing)."""
    return {model: (row.input_usd_per_mtok, row.output_usd_per_mtok) for model, row in in_effect(rows, day).items()
            if row.currency == PRICING_CURRENCY}


def _day(value: object, what: str) -> date:
    if not isinstance(value, date):
        raise ValueError(f"{what} must be a date (YYYY-MM-DD), got {value!r}")
    return value


def load_prices(path: Path = PRICES_FILE) -> list[ListPrice]:
    """Read a price file: ``{provider: {model: [{input, output, currency, effective_from,
    effective_to?, source, source_date}, ...]}}`` (prices per million tokens).

    Raises:
        OSError: the file cannot be read.
        KeyError: an entry lacks a field.
        ValueError: a negative or non-numeric price, a currency that is not three upper-case letters,
            a source that is not an http(s) URL, a missing date, an empty range, or two prices of one
            model whose ranges overlap.
    """
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    prices = []
    for provider, models in raw.items():
        for model, entries in models.items():
            for e in entries:
                where = f"{path.name}: {provider}/{model}"
                inp, out = float(e["input"]), float(e["output"])
                if inp < 0 or out < 0:
                    raise ValueError(f"{where}: prices must be non-negative")
                if not CURRENCY_RE.match(str(e["currency"])):
                    raise ValueError(f"{where}: currency {e['currency']!r} is not an ISO 4217 code (three upper-case letters)")
                if not str(e["source"]).startswith(("https://", "http://")):
                    raise ValueError(f"{where}: source {e['source']!r} is not a URL")
                start, end = _day(e["effective_from"], f"{where} effective_from"), e.get("effective_to")
                if end is not None and _day(end, f"{where} effective_to") < start:
                    raise ValueError(f"{where}: effective_to {end} is before effective_from {start}")
                prices.append(ListPrice(provider, model, inp, out, e["currency"], start, end, e["source"],
                                        _day(e["source_date"], f"{where} source_date")))
    if clashes := overlapping(prices):
        a, b = clashes[0]
        raise ValueError(f"{path.name}: two prices of {a.model} overlap ({a.effective_from}..{a.effective_to or 'open'} "
                         f"and {b.effective_from}..{b.effective_to or 'open'})")
    return prices


FILE_PRICES: list[ListPrice] = load_prices()
# Each model's newest US-dollar list price: the fallback when the table has no prices (clock-free on purpose).
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    p.model: (p.input_usd_per_mtok, p.output_usd_per_mtok)
    for p in sorted(FILE_PRICES, key=lambda p: p.effective_from) if p.currency == PRICING_CURRENCY
}


def resolve_price_key(model: str, prices: dict[str, tuple[float, float]]) -> str | None:
    """The key of ``prices`` that prices ``model``, or ``None``.

    ``openai:gpt-4o-mini`` is looked up as ``gpt-4o-mini``; a dated snapshot such as
    ``gpt-4o-mini-2024-07-18`` takes the longest key it starts with followed by ``-``
    (so ``gpt-4o-mini-...`` is never priced as ``gpt-4o``).
    """
    name = model.split(":", 1)[1] if ":" in model else model
    for candidate in (model, name):
        if candidate in prices:
            return candidate
    prefixes = [key for key in prices if name.startswith(key + "-")]
    return max(prefixes, key=len) if prefixes else None


def price_usd(model: str, tokens_in: int, tokens_out: int, prices: dict[str, tuple[float, float]]) -> float:
    """Cost of a call in US dollars: ``(tokens_in * input + tokens_out * output) / 1e6``.

    Args:
        model: model name, with or without ``provider:`` prefix or snapshot date suffix.
        tokens_in, tokens_out: token counts (non-negative).
        prices: ``{model: (input_usd_per_million_tokens, output_usd_per_million_tokens)}``.

    Raises:
        KeyError: no price is known for ``model`` (the caller decides whether that is fatal).
        ValueError: a negative token count.
    """
    if tokens_in < 0 or tokens_out < 0:
        raise ValueError(f"token counts must be non-negative, got {tokens_in}, {tokens_out}")
    key = resolve_price_key(model, prices)
    if key is None:
        raise KeyError(f"no price for model {model!r}; known: {', '.join(sorted(prices))}")
    usd_in, usd_out = prices[key]
    return (tokens_in * usd_in + tokens_out * usd_out) / 1_000_000
