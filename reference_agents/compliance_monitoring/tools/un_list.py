"""Parser of the UN Security Council Consolidated Sanctions List (official XML).

Format: ``CONSOLIDATED_LIST/INDIVIDUALS/INDIVIDUAL`` and ``CONSOLIDATED_LIST/ENTITIES/ENTITY``
as defined by the UN's ``sc-sanctions.xsd`` (https://www.un.org/sc/resources/sc-sanctions.xsd).
An individual's name is ``FIRST_NAME`` … ``FOURTH_NAME``; an entity's is ``FIRST_NAME``.
Aliases are ``INDIVIDUAL_ALIAS`` / ``ENTITY_ALIAS`` with ``QUALITY`` (``Good``, ``Low``,
``a.k.a.``, ``f.k.a.``) and ``ALIAS_NAME``; ``NAME_ORIGINAL_SCRIPT`` is kept as an alias of
quality ``original script``. Dates of birth are ``INDIVIDUAL_DATE_OF_BIRTH`` with ``TYPE_OF_DATE``
``EXACT`` (``DATE`` or ``YEAR``), ``APPROXIMATELY`` (``YEAR``) or ``BETWEEN`` (``FROM_YEAR``,
``TO_YEAR``); the root's ``dateGenerated`` attribute dates the file.
"""

from __future__ import annotations

import re
from pathlib import Path

from defusedxml import ElementTree

from reference_agents.compliance_monitoring.tools.entries import BirthDate, ListEntry

_NAME_PARTS = ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME")
_YEAR = re.compile(r"\b(19\d\d|20\d\d)\b")


def _text(elem, tag: str) -> str:
    return " ".join((elem.findtext(tag) or "").split())


def _values(elem, tag: str) -> list[str]:
    """The non-empty ``<VALUE>`` children of ``elem/tag`` (e.g. NATIONALITY, DESIGNATION)."""
    return [v for v in (" ".join((x.text or "").split()) for x in elem.findall(f"{tag}/VALUE")) if v]


def _birth_date(dob) -> BirthDate | None:
    """One ``INDIVIDUAL_DATE_OF_BIRTH``; ``None`` when it holds no Gregorian year.

    A ``NOTE`` alone (``"Nov. 1973"``) gives its year at the stated type; notes that are not
    Gregorian dates (``"(Hijri Calendar)"``, ``"30-35 years old"``) are left out.
    """
    kind = _text(dob, "TYPE_OF_DATE").upper() or "EXACT"
    date, year = _text(dob, "DATE")[:10], _text(dob, "YEAR")
    start, end = _text(dob, "FROM_YEAR"), _text(dob, "TO_YEAR")
    if date:
        return BirthDate(kind, date, int(date[:4]), int(date[:4]))
    if year.isdigit():
        return BirthDate(kind, None, int(year), int(year))
    if start.isdigit() and end.isdigit():
        return BirthDate("BETWEEN", None, int(start), int(end))
    note = _text(dob, "NOTE")
    found = _YEAR.search(note)
    if found and "hijri" not in note.lower():
        return BirthDate(kind, None, int(found.group(1)), int(found.group(1)))
    return None


def _birth_dates(elem) -> tuple[BirthDate, ...]:
    out: list[BirthDate] = []
    for dob in elem.findall("INDIVIDUAL_DATE_OF_BIRTH"):
        parsed = _birth_date(dob)
        if parsed and parsed not in out:
            out.append(parsed)
    return tuple(out)


def _address_countries(elem, tag: str) -> tuple[str, ...]:
    out: list[str] = []
    for address in elem.findall(tag):
        country = _text(address, "COUNTRY")
        if country and country not in out:
            out.append(country)
    return tuple(out)


def _aliases(elem, tag: str) -> list[tuple[str, str | None]]:
    out = []
    for alias in elem.findall(tag):
        name = _text(alias, "ALIAS_NAME")
        if name:
            out.append((name, _text(alias, "QUALITY") or None))
    original = _text(elem, "NAME_ORIGINAL_SCRIPT")
    if original:
        out.append((original, "original script"))
    return out


def parse_un_consolidated_xml(path: str | Path) -> list[ListEntry]:
    """All individuals and entities of a UN consolidated list XML file.

    Args:
        path: the XML file (e.g. ``data/un_sc_consolidated_list_2020-11-24.xml``).

    Returns:
        One :class:`ListEntry` per ``INDIVIDUAL`` / ``ENTITY``, source ``"UN"``, in file order.

    Raises:
        ValueError: the root element is not ``CONSOLIDATED_LIST``.
        defusedxml.DefusedXmlException / xml.etree.ElementTree.ParseError: unsafe or malformed XML.
    """
    root = ElementTree.parse(str(path)).getroot()
    if root.tag != "CONSOLIDATED_LIST":
        raise ValueError(f"{path}: root element is {root.tag!r}, expected CONSOLIDATED_LIST (sc-sanctions.xsd)")
    entries = []
    for party_type, tag, alias_tag in (("individual", "INDIVIDUALS/INDIVIDUAL", "INDIVIDUAL_ALIAS"),
                                       ("entity", "ENTITIES/ENTITY", "ENTITY_ALIAS")):
        for elem in root.findall(tag):
            name = " ".join(p for p in (_text(elem, t) for t in _NAME_PARTS) if p)
            entries.append(
                ListEntry(
                    source="UN",
                    reference_number=_text(elem, "REFERENCE_NUMBER"),
                    party_type=party_type,
                    primary_name=name,
                    aliases=tuple(_aliases(elem, alias_tag)),
                    list_type=_text(elem, "UN_LIST_TYPE"),
                    nationalities=tuple(_values(elem, "NATIONALITY")),
                    birth_dates=_birth_dates(elem) if party_type == "individual" else (),
                    countries=_address_countries(elem, "ENTITY_ADDRESS" if party_type == "entity" else "INDIVIDUAL_ADDRESS"),
                    listed_on=_text(elem, "LISTED_ON") or None,
                )
            )
    return entries


def un_date_generated(path: str | Path) -> str | None:
    """The file's ``dateGenerated`` (ISO 8601 as published, e.g. ``2020-11-24T20:23:07.617-05:00``),
    read from the root element without parsing the rest; ``None`` when the attribute is missing.

    Raises:
        defusedxml.DefusedXmlException / xml.etree.ElementTree.ParseError: unsafe or malformed XML.
    """
    for _event, elem in ElementTree.iterparse(str(path), events=("start",)):
        return elem.get("dateGenerated") or None
    return None
