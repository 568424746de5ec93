"""Secondary identifiers that raise or lower a name match: date of birth (at the precision the
list gives it) and nationality or country.

Each comparison returns an evidence level; the policy's ``identifiers`` section turns a level into
points added to the match score (:func:`identifier_adjustment`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from reference_agents.compliance_monitoring.tools.countries import country_codes
from reference_agents.compliance_monitoring.tools.entries import BirthDate

# Best first: when several listed dates exist, the most favourable one speaks for the list.
DOB_LEVELS = ("exact", "year", "approximate", "partial", "conflict")


def _one_date(dob: str, listed: BirthDate, tolerance_years: int) -> str:
    """Evidence of one listed date against the customer's ``YYYY`` or ``YYYY-MM-DD``."""
    year = int(dob[:4])
    if listed.type == "APPROXIMATELY":
        near = listed.year_from - tolerance_years <= year <= listed.year_to + tolerance_years
        return "approximate" if near else "conflict"
    if listed.type == "BETWEEN":
        return "approximate" if listed.year_from <= year <= listed.year_to else "conflict"
    if year != listed.year_from:
        return "conflict"
    if listed.date and len(dob) == 10:
        if dob == listed.date:
            return "exact"
        # a listed month (YYYY-MM) that agrees is as good as the year; a different day or month is not
        return "year" if len(listed.date) == 7 and dob.startswith(listed.date) else "partial"
    return "year"


def dob_evidence(date_of_birth: str | None, listed: Iterable[BirthDate], tolerance_years: int = 2) -> str | None:
    """How a customer's date of birth compares with a listed party's.

    Args:
        date_of_birth: ``YYYY`` or ``YYYY-MM-DD``, or ``None``.
        listed: the party's :class:`BirthDate` records (UN ``TYPE_OF_DATE``).
        tolerance_years: years either side of an ``APPROXIMATELY`` year that still agree.

    Returns:
        ``None`` when either side is unknown, else the best level over the listed dates:
        ``exact`` (full dates equal), ``year`` (the year agrees with an ``EXACT`` year or
        month, or the customer gave only a year), ``approximate`` (within an ``APPROXIMATELY``
        year ± ``tolerance_years`` or inside a ``BETWEEN`` range), ``partial`` (same year but a
        different exact date), ``conflict`` (no listed date is consistent).
    """
    listed = list(listed)
    if not date_of_birth or not listed:
        return None
    levels = {_one_date(date_of_birth, d, tolerance_years) for d in listed}
    return next(level for level in DOB_LEVELS if level in levels)


def country_evidence(given: str | None, listed: Iterable[str]) -> str | None:
    """Whether the screened party's nationality or country agrees with the listed ones.

    Args:
        given: a country code, name or demonym (customer nationality, counterparty country).
        listed: the listed nationalities (individuals) or address countries (entities), as published.

    Returns:
        ``agrees`` when a listed country is the given one, ``conflicts`` when both sides name
        known countries and none agree, ``None`` when either side names none.
    """
    mine, theirs = country_codes([given] if given else []), country_codes(listed)
    if not mine or not theirs:
        return None
    return "agrees" if mine & theirs else "conflicts"


def identifier_adjustment(dob: str | None, country: str | None, policy: Mapping) -> float:
    """Points (may be negative) added to the match score for the evidence levels.

    Args:
        dob: a :func:`dob_evidence` level or ``None``.
        country: a :func:`country_evidence` level or ``None``.
        policy: the screening policy's ``identifiers`` section (``dob_points``, ``country_points``).
    """
    points = policy["dob_points"].get(dob, 0.0) if dob else 0.0
    return points + (policy["country_points"].get(country, 0.0) if country else 0.0)


def identifiers_agree(dob: str | None, country: str | None, party_type: str) -> bool:
    """Whether the identifiers support identity on their own terms, as the demo analyst requires:
    no conflict, and a date of birth that agrees (``exact``, ``year`` or ``approximate``) or, for
    a party that has no date of birth (entity, vessel, aircraft), a country that agrees."""
    if dob == "conflict" or country == "conflicts":
        return False
    if dob in ("exact", "year", "approximate"):
        return True
    return party_type != "individual" and country == "agrees"
