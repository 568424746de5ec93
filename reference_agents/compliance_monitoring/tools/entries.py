"""The one record type every watchlist parser (UN, OFAC) produces."""

from __future__ import annotations

from dataclasses import dataclass


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
            (UN ``Good``/``Low``/``a.k.a.``, OFAC ``a.k.a. strong``) or ``None``.
        list_type: UN sanctions regime (``Al-Qaida``, ``DPRK``…) or OFAC program(s) joined by ``;``.
        nationalities: as published (country names).
        dates_of_birth: ISO dates ``YYYY-MM-DD``, years ``YYYY`` or ranges ``YYYY-YYYY``.
        listed_on: ISO date of listing, when published.
    """

    source: str
    reference_number: str
    party_type: str
    primary_name: str
    aliases: tuple[tuple[str, str | None], ...] = ()
    list_type: str = ""
    nationalities: tuple[str, ...] = ()
    dates_of_birth: tuple[str, ...] = ()
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
            "dates_of_birth": list(self.dates_of_birth),
            "listed_on": self.listed_on,
        }
