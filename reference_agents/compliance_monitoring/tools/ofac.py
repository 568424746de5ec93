"""Parsers of the OFAC Specially Designated Nationals (SDN) list in its public formats.

Formats (OFAC "SDN data specification", U.S. Treasury):

* legacy XML ``sdn.xml``: ``sdnList/sdnEntry`` with ``uid``, ``firstName``, ``lastName``,
  ``sdnType`` (Individual, Entity, Vessel, Aircraft), ``programList/program``,
  ``akaList/aka`` (``type`` a.k.a./f.k.a./n.k.a., ``category`` strong/weak, names),
  ``nationalityList/nationality/country``, ``dateOfBirthList/dateOfBirthItem/dateOfBirth``,
  ``addressList/address/country``, and ``publshInformation/Publish_Date`` (the file's date).
  The default namespace has changed over the years, so elements are matched by local name.
* CSV ``sdn.csv`` (no header): ent_num, SDN_Name, SDN_Type, Program, Title, Call_Sign,
  Vess_type, Tonnage, GRT, Vess_flag, Vess_owner, Remarks; ``alt.csv``: ent_num, alt_num,
  alt_type, alt_name, alt_remarks. Null is ``-0-``; an individual's type is ``individual``,
  an entity's is null; dates of birth and nationality are only in Remarks
  (``DOB 01 Jan 1960; DOB circa 1960; DOB 1960 to 1962; ... nationality Iran;``). The CSV format
  carries no publication date.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from datetime import datetime
from pathlib import Path

from defusedxml import ElementTree

from reference_agents.compliance_monitoring.tools.entries import BirthDate, ListEntry

_NULL = "-0-"
_DOB = re.compile(r"\bDOB ([^;]+)", re.IGNORECASE)
_SPAN = re.compile(r"(\d{4}) to (\d{4})")
_NATIONALITY = re.compile(r"\bnationality ([^;]+)", re.IGNORECASE)


def _birth_date(text: str) -> BirthDate | None:
    """An OFAC date of birth as the list writes it: ``"01 Jan 1960"`` (exact date), ``"Jan 1960"``
    (month), ``"1960"``, ``"circa 1960"`` (``APPROXIMATELY``) or ``"1960 to 1962"`` (``BETWEEN``);
    ``None`` for text with no year."""
    text = " ".join(text.split()).rstrip(".")
    span = _SPAN.fullmatch(text)
    if span:
        return BirthDate("BETWEEN", None, int(span.group(1)), int(span.group(2)))
    kind = "APPROXIMATELY" if text.lower().startswith("circa") else "EXACT"
    text = text[5:].strip() if kind == "APPROXIMATELY" else text
    for fmt, out in (("%d %b %Y", "%Y-%m-%d"), ("%b %Y", "%Y-%m"), ("%Y", None)):
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return BirthDate(kind, parsed.strftime(out) if out else None, parsed.year, parsed.year)
    return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(elem, name: str):
    return next((c for c in elem if _local(c.tag) == name), None)


def _child_text(elem, name: str) -> str:
    child = _child(elem, name)
    return " ".join((child.text or "").split()) if child is not None else ""


def _items(elem, list_name: str, item_name: str) -> list:
    container = _child(elem, list_name)
    return [c for c in container if _local(c.tag) == item_name] if container is not None else []


def _full_name(elem) -> str:
    return " ".join(p for p in (_child_text(elem, "firstName"), _child_text(elem, "lastName")) if p)


def parse_ofac_sdn_xml(path: str | Path) -> list[ListEntry]:
    """All entries of an OFAC legacy ``sdn.xml`` file.

    Returns:
        One :class:`ListEntry` per ``sdnEntry``, source ``"OFAC_SDN"``, reference number the
        ``uid``, party type the lower-cased ``sdnType``.

    Raises:
        ValueError: the root element is not ``sdnList`` or an entry has no ``uid`` or name.
        defusedxml.DefusedXmlException / xml.etree.ElementTree.ParseError: unsafe or malformed XML.
    """
    root = ElementTree.parse(str(path)).getroot()
    if _local(root.tag) != "sdnList":
        raise ValueError(f"{path}: root element is {_local(root.tag)!r}, expected sdnList (OFAC sdn.xml)")
    entries = []
    for elem in (c for c in root if _local(c.tag) == "sdnEntry"):
        uid, name = _child_text(elem, "uid"), _full_name(elem)
        if not uid or not name:
            raise ValueError(f"{path}: sdnEntry without uid or lastName (uid={uid!r})")
        aliases = []
        for aka in _items(elem, "akaList", "aka"):
            quality = " ".join(p for p in (_child_text(aka, "type"), _child_text(aka, "category")) if p)
            aliases.append((_full_name(aka), quality or None))
        entries.append(
            ListEntry(
                source="OFAC_SDN",
                reference_number=uid,
                party_type=_child_text(elem, "sdnType").lower() or "entity",
                primary_name=name,
                aliases=tuple(a for a in aliases if a[0]),
                list_type=";".join(p.text.strip() for p in _items(elem, "programList", "program") if p.text),
                nationalities=tuple(
                    _child_text(n, "country") for n in _items(elem, "nationalityList", "nationality")
                    if _child_text(n, "country")
                ),
                birth_dates=tuple(
                    b for b in (_birth_date(_child_text(d, "dateOfBirth"))
                                for d in _items(elem, "dateOfBirthList", "dateOfBirthItem")) if b
                ),
                countries=tuple(
                    _child_text(a, "country") for a in _items(elem, "addressList", "address") if _child_text(a, "country")
                ),
            )
        )
    return entries


def _csv_rows(path: str | Path, min_columns: int) -> list[list[str]]:
    """Data rows of an OFAC CSV file: nulls as ``""``, the trailing Ctrl-Z/blank lines skipped."""
    rows = []
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        for lineno, row in enumerate(csv.reader(fh), start=1):
            if not row or not row[0].strip().strip("\x1a"):
                continue
            if len(row) < min_columns or not row[0].strip().isdigit():
                raise ValueError(f"{path}:{lineno}: expected {min_columns} columns starting with ent_num, got {row!r}")
            rows.append(["" if v.strip() == _NULL else " ".join(v.split()) for v in row])
    return rows


def parse_ofac_sdn_csv(sdn_path: str | Path, alt_path: str | Path | None = None) -> list[ListEntry]:
    """All entries of an OFAC ``sdn.csv``, with aliases from ``alt.csv`` when given.

    Returns:
        One :class:`ListEntry` per row, source ``"OFAC_SDN"``, reference number ``ent_num``;
        party type ``individual``/``vessel``/``aircraft`` or ``entity`` for a null type;
        dates of birth and nationality parsed from Remarks.

    Raises:
        ValueError: a row has too few columns or no numeric ``ent_num``.
    """
    aliases: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
    if alt_path:
        for row in _csv_rows(alt_path, 4):
            if row[3]:
                aliases[row[0]].append((row[3], row[2] or None))
    entries = []
    for row in _csv_rows(sdn_path, 12):
        ent_num, name, sdn_type, program, remarks = row[0], row[1], row[2], row[3], row[11]
        entries.append(
            ListEntry(
                source="OFAC_SDN",
                reference_number=ent_num,
                party_type=sdn_type.lower() or "entity",
                primary_name=name,
                aliases=tuple(aliases.get(ent_num, ())),
                list_type=program.replace("] [", ";").strip("[]"),
                nationalities=tuple(m.strip() for m in _NATIONALITY.findall(remarks)),
                birth_dates=tuple(b for b in (_birth_date(m) for m in _DOB.findall(remarks)) if b),
            )
        )
    return entries


def ofac_publish_date(path: str | Path) -> str | None:
    """The ``publshInformation/Publish_Date`` of a legacy ``sdn.xml`` (``MM/DD/YYYY``) as ISO
    ``YYYY-MM-DD``; ``None`` when absent or unreadable.

    Raises:
        defusedxml.DefusedXmlException / xml.etree.ElementTree.ParseError: unsafe or malformed XML.
    """
    root = ElementTree.parse(str(path)).getroot()
    info = _child(root, "publshInformation")
    text = _child_text(info, "Publish_Date") if info is not None else ""
    try:
        return datetime.strptime(text, "%m/%d/%Y").date().isoformat()
    except ValueError:
        return None
