"""Conversion between a billing currency and US dollars, so money thresholds mean the same value
in every currency (a 5 USD card-testing limit is about 7,900 NGN or 750 JPY, not 5 units of either).

Rates: the National Bank of Poland's (NBP) average exchange rates as published for 2024-02-28
(Table A, daily, and Table B, weekly), in ``data/fx_rates_nbp_2024-02-28.csv`` as złoty (PLN) per
one unit of each currency; a currency's US dollars per unit is its PLN rate over the dollar's.
The NBP is used because it alone among the sources available offline quotes the currencies the
European Central Bank does not (e.g. NGN, AED); where both quote a currency they agree within 1 %
(see ``data/PROVENANCE.md``). The table is a snapshot: re-take it when rates have moved.
"""

from __future__ import annotations

from functools import lru_cache

from reference_agents.fraud_detection.reference_data import DATA_DIR, read_csv

RATE_FILE = "fx_rates_nbp_2024-02-28.csv"
RATE_DATE = "2024-02-28"
RATE_SOURCE = "National Bank of Poland average exchange rates (Tables A and B)"


@lru_cache(maxsize=1)
def _pln_per_unit() -> dict[str, float]:
    return {row["currency"]: float(row["pln_per_unit"]) for row in read_csv(RATE_FILE)}


def rate_currencies() -> frozenset[str]:
    """ISO 4217 codes the rate table has (147, PLN included)."""
    return frozenset(_pln_per_unit())


def usd_per_unit(currency: str) -> float:
    """US dollars per one unit of ``currency`` at the table's date.

    Raises:
        KeyError: the table has no rate for ``currency`` (its message names the file).
    """
    rates = _pln_per_unit()
    if currency not in rates:
        raise KeyError(f"no exchange rate for {currency!r} in {DATA_DIR.name}/{RATE_FILE}")
    return rates[currency] / rates["USD"]


def to_usd(amount: float, currency: str) -> float:
    """``amount`` of ``currency`` in US dollars (raises ``KeyError`` as :func:`usd_per_unit`)."""
    return amount * usd_per_unit(currency)


def from_usd(amount_usd: float, currency: str) -> float:
    """``amount_usd`` US dollars in units of ``currency`` (raises ``KeyError`` as :func:`usd_per_unit`)."""
    return amount_usd / usd_per_unit(currency)
