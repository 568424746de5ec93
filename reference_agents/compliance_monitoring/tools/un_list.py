"""Parser of the UN Security Council Consolidated Sanctions List (official XML).

Format: ``CONSOLIDATED_LIST/INDIVIDUALS/INDIVIDUAL`` and ``CONSOLIDATED_LIST/ENTITIES/ENTITY``
as defined by the UN's ``sc-sanctions.xsd`` (https://www.un.org/sc/resources/sc-sanctions.xsd).
An individual's name is ``FIRST_NAME`` … ``FOURTH_NAME``; an entity's is ``FIRST_NAME``.
Aliases are ``INDIVIDUAL_ALIAS`` / ``ENTITY_ALIAS`` with ``QUALITY`` (``Good``, ``Low``,
``a.k.a.``, ``f.k.a.``) and ``ALIAS_NAME``; ``NAME_ORIGINAL_SCRIPT`` is kept as an alias of
quality ``original script``.
"""

from __future__ import annotations

from pathlib import Path

from defusedxml import ElementTree

from reference_agents.compliance_monitoring.tools.entries import ListEntry

_NAME_PARTS = ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME")


def _text(elem, tag: str) -> str:
    return " ".join((elem.findtext(tag) or "").split())


def _values(elem, tag: str) -> list[str]:
    """The non-empty ``<VALUE>`` children of ``elem/tag`` (e.g. NATIONALITY, DESIGNATION)."""
    return [v for v in (" ".join((x.text or "").split()) for x in elem.findall(f"{tag}/VALUE")) if v]


def _dates_of_birth(elem) -> list[str]:
    """``INDIVIDUAL_DATE_OF_BIRTH`` as ISO dates, years, or ``"YYYY-YYYY"`` ranges."""
    out = []
    for dob in elem.findall("INDIVIDUAL_DATE_OF_BIRTH"):
        date, year = _text(dob, "DATE"), _text(dob, "YEAR")
        start, end = _text(dob, "FROM_YEAR"), _text(dob, "TO_YEAR")
        value = date or year or (f"{start}-{end}" if start and end else "")
        if value and value not in out:
            out.append(value)
    return out


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
                    dates_of_birth=tuple(_dates_of_birth(elem)) if party_type == "individual" else (),
                    listed_on=_text(elem, "LISTED_ON") or None,
                )
            )
    return entries
