"""The record types every watchlist parser (UN, OFAC) produces: listed parties, their dates of
birth as the list qualifies them, and the version of the list file they came from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BirthDate:
    """One listed date of birth, with the precision the list gives it.

    Attributes:
        type: the list's qualifier: ``EXACT``, ``APPROXIMATELY`` or ``BETWEEN`` (UN
            ``TYPE_OF_DATE``; OFAC ``circa`` is ``APPROXIMATELY``, ``1960 to 1962`` is ``BETWEEN``).
        date: ``YYYY-MM-DD`` or ``YYYY-MM`` when the list gives more than a year, else ``None``.
        year_from: first possible year of birth.
        year_to: last possible year of birth (equal to ``year_from`` unless ``BETWEEN``).
    """

    type: str
    date: str | None
    year_from: int
    year_to: int

    def summary(self) -> dict:
        """JSON form: ``{"type", "date"}`` or ``{"type", "year"}`` or ``{"type", "from", "to"}``."""
        if self.date:
            return {"type": self.type, "date": self.date}
        if self.year_from == self.year_to:
            return {"type": self.type, "year": self.year_from}
        return {"type": self.type, "from": self.year_from, "to": self.year_to}


@dataclass(frozen=True)
class ListEntry:
    """One listed party of a sanctions list.

    Attributes:
        source: list publisher, ``"UN"`` or ``"OFAC_SDN"``.
        reference_number: the list's own id (UN ``REFERENCE_NUMBER`` such as ``QDi.001``;
            OFAC ``uid`` / ``ent_num``).
        party_type: ``"individual"``, ``"entity"``, ``"vessel"`` or ``"aircraft"``.
        primary_name: the listed name as published (whitespace collapsed).
        aliases: ``(alias name, quality)`` pairs; quality is the list's own label
            (UN ``Good``/``Low``/``a.k.a.``, OFAC ``a.k.a. strong``/``weak``) or ``None``.
        list_type: UN sanctions regime (``Al-Qaida``, ``DPRK``…) or OFAC program(s) joined by ``;``.
        nationalities: as published (country names).
        birth_dates: the listed dates of birth (individuals only).
        countries: countries of the listed addresses, as published (for entities, the
            secondary identifier compared with the screened party's country).
        listed_on: ISO date of listing, when published.
    """

    source: str
    reference_number: str
    party_type: str
    primary_name: str
    aliases: tuple[tuple[str, str | None], ...] = ()
    list_type: str = ""
    nationalities: tuple[str, ...] = ()
    birth_dates: tuple[BirthDate, ...] = ()
    countries: tuple[str, ...] = ()
    listed_on: str | None = None

    def summary(self) -> dict:
        """JSON-serialisable description for run state and output (no alias list)."""
        return {
            "source": self.source,
            "reference_number": self.reference_number,
            "party_type": self.party_type,
            "primary_name": self.primary_name,
            "list_type": self.list_type,
            "nationalities": list(self.nationalities),
            "dates_of_birth": [d.summary() for d in self.birth_dates],
            "countries": list(self.countries),
            "listed_on": self.listed_on,
        }


@dataclass(frozen=True)
class ListVersion:
    """Which list file a screening used (the audit trail of every output).

    Attributes:
        source: ``"UN"`` or ``"OFAC_SDN"``.
        file: the file's name (no directory).
        date_generated: the publisher's own date of the file, ISO 8601 as published (UN
            ``dateGenerated``, OFAC ``Publish_Date``), ``None`` when the format has none (OFAC CSV).
        sha256: hex SHA-256 of the file's bytes.
        parties: parties parsed from it.
    """

    source: str
    file: str
    date_generated: str | None
    sha256: str
    parties: int
