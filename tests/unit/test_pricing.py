"""The price file and price lookups by date: every shipped price names its source and the day it was
read; a call is priced by the price in effect on its day; overlapping ranges and malformed entries
are refused; a price in another currency prices nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from shipway.pricing import (
    DEFAULT_PRICES,
    FILE_PRICES,
    PRICES_FILE,
    ListPrice,
    load_prices,
    overlapping,
    price_table,
    price_usd,
    ranges_overlap,
)

# The list prices the file carried before it had dates and sources (USD per million tokens): the
# restructuring must keep every model and number.
LIST_PRICES_MID_2025 = {
    "gpt-4o-mini": (0.15, 0.60), "gpt-4o": (2.50, 10.00), "gpt-4.1": (2.00, 8.00), "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40), "o3-mini": (1.10, 4.40), "o4-mini": (1.10, 4.40), "claude-3-haiku": (0.25, 1.25),
    "claude-3-5-haiku": (0.80, 4.00), "claude-3-5-sonnet": (3.00, 15.00), "claude-3-7-sonnet": (3.00, 15.00),
    "claude-sonnet-4": (3.00, 15.00), "claude-opus-4": (15.00, 75.00),
}


def _price(model: str, start: date, end: date | None, inp: float, out: float = 1.0, currency: str = "USD") -> ListPrice:
    return ListPrice("test", model, inp, out, currency, start, end, "https://example.com/pricing", date(2026, 1, 1))


def test_every_shipped_price_names_its_source_url_and_the_day_it_was_read():
    raw = yaml.safe_load(PRICES_FILE.read_text())
    entries = [(model, e) for models in raw.values() for model, listed in models.items() for e in listed]
    assert len(entries) == len(FILE_PRICES) >= len(LIST_PRICES_MID_2025)
    for model, e in entries:
        assert str(e["source"]).startswith("https://"), model
        assert isinstance(e["source_date"], date) and isinstance(e["effective_from"], date), model
        assert e["currency"] == "USD", model
    assert not overlapping(FILE_PRICES)


def test_the_file_keeps_the_mid_2025_list_prices():
    assert DEFAULT_PRICES == LIST_PRICES_MID_2025
    on_read_day = price_table(FILE_PRICES, date(2025, 6, 1))
    assert on_read_day == LIST_PRICES_MID_2025


def price_usd_on(model: str, tokens_in: int, tokens_out: int, rows: list[ListPrice], day: date) -> float:
    return price_usd(model, tokens_in, tokens_out, price_table(rows, day))


def test_a_call_is_priced_by_the_price_in_effect_on_its_day():
    rows = [_price("m", date(2026, 1, 1), date(2026, 2, 28), 1.0, 2.0), _price("m", date(2026, 3, 1), None, 3.0, 4.0)]
    # both ends of a range are inclusive: the last day of the old price, the first of the new one
    assert price_usd_on("m", 1_000_000, 1_000_000, rows, date(2026, 2, 28)) == pytest.approx(3.0)
    assert price_usd_on("m", 1_000_000, 1_000_000, rows, date(2026, 3, 1)) == pytest.approx(7.0)
    assert price_usd_on("openai:m-2026-05-01", 2_000_000, 0, rows, date(2030, 1, 1)) == pytest.approx(6.0)
    with pytest.raises(KeyError, match="no price for model 'm'"):
        price_usd_on("m", 1, 1, rows, date(2025, 12, 31))  # before any price of it


def test_a_price_in_another_currency_prices_nothing():
    rows = [_price("eur-model", date(2026, 1, 1), None, 1.0, currency="EUR"), _price("usd-model", date(2026, 1, 1), None, 1.0)]
    assert price_table(rows, date(2026, 6, 1)) == {"usd-model": (1.0, 1.0)}
    with pytest.raises(KeyError):
        price_usd_on("eur-model", 1, 1, rows, date(2026, 6, 1))


@pytest.mark.parametrize(("a", "b", "overlap"), [
    ((date(2026, 1, 1), date(2026, 1, 31)), (date(2026, 1, 31), None), True),   # a shared last/first day
    ((date(2026, 1, 1), date(2026, 1, 30)), (date(2026, 1, 31), None), False),  # adjacent
    ((date(2026, 1, 1), None), (date(2027, 1, 1), date(2027, 2, 1)), True),     # open range swallows a later one
    ((date(2026, 2, 1), None), (date(2026, 1, 1), date(2026, 1, 31)), False),
])
def test_inclusive_day_ranges_overlap_when_they_share_a_day(a, b, overlap):
    assert ranges_overlap(*a, *b) is overlap
    assert ranges_overlap(*b, *a) is overlap


def _write(tmp_path: Path, entries: list[dict]) -> Path:
    path = tmp_path / "prices.yaml"
    path.write_text(yaml.safe_dump({"acme": {"acme-1": entries}}))
    return path


GOOD = {"input": 1.0, "output": 2.0, "currency": "USD", "effective_from": date(2026, 1, 1),
        "source": "https://acme.example/pricing", "source_date": date(2026, 1, 1)}


def test_a_price_file_with_overlapping_ranges_is_refused(tmp_path):
    later = {**GOOD, "effective_from": date(2026, 6, 1)}
    with pytest.raises(ValueError, match="two prices of acme-1 overlap"):
        load_prices(_write(tmp_path, [GOOD, later]))  # the first is open, so it runs into the second
    closed = {**GOOD, "effective_to": date(2026, 5, 31)}
    prices = load_prices(_write(tmp_path, [closed, later]))
    assert [(p.effective_from, p.effective_to) for p in prices] == [(date(2026, 1, 1), date(2026, 5, 31)), (date(2026, 6, 1), None)]


@pytest.mark.parametrize(("change", "error", "match"), [
    ({"currency": "usd"}, ValueError, "ISO 4217"),
    ({"currency": "DOLLAR"}, ValueError, "ISO 4217"),
    ({"source": "the sales rep"}, ValueError, "not a URL"),
    ({"source_date": None}, ValueError, "source_date must be a date"),
    ({"effective_to": date(2025, 12, 31)}, ValueError, "before effective_from"),
    ({"input": -0.1}, ValueError, "non-negative"),
])
def test_malformed_entries_are_refused(tmp_path, change, error, match):
    with pytest.raises(error, match=match):
        load_prices(_write(tmp_path, [{**GOOD, **change}]))


def test_an_entry_without_a_source_is_refused(tmp_path):
    with pytest.raises(KeyError, match="source"):
        load_prices(_write(tmp_path, [{k: v for k, v in GOOD.items() if k != "source"}]))
