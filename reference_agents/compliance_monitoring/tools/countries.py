"""Country names as lists and customers write them, mapped to ISO 3166-1 alpha-2 codes.

Sources: ``data/iso3166.tab`` (the IANA time zone database's table of ISO 3166-1 alpha-2 codes and
short names, public domain) and ``data/country_aliases.tsv`` (the formal UN names, demonyms and
older names the UN list uses, written for this agent; see ``data/PROVENANCE.md``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from anyascii import anyascii

_DATA = Path(__file__).resolve().parent.parent / "data"
_WORDS = re.compile(r"[a-z]+")


def _key(text: str) -> str:
    return " ".join(_WORDS.findall(anyascii(text).lower()))


@lru_cache(maxsize=1)
def country_table() -> dict[str, str]:
    """``{normalised country name or alias: alpha-2 code}`` from the two data files."""
    table: dict[str, str] = {}
    for name in ("iso3166.tab", "country_aliases.tsv"):
        for line in (_DATA / name).read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                code, text = line.split("\t", 1)
                table[_key(text)] = code
    return table


def country_codes(texts: Iterable[str]) -> set[str]:
    """The alpha-2 codes named by ``texts`` (codes, names, formal names or demonyms).

    A text is a code when it is two upper-case letters (``"na"``, the list's "not available",
    is not Namibia); otherwise every known name found in it as whole words counts, longest
    first so that ``"Democratic Republic of the Congo"`` is not also ``"Congo"``
    (``"Indonesia (as at Dec. 2003)"`` → ``{"ID"}``; ``"United States. Also believed to hold
    Syrian nationality"`` → ``{"US", "SY"}``). Unknown text gives nothing.
    """
    names = sorted(country_table().items(), key=lambda item: -len(item[0]))
    codes: set[str] = set()
    for text in texts:
        text = (text or "").strip()
        if len(text) == 2 and text.isalpha() and text.isupper():
            codes.add(text)
            continue
        key = f" {_key(text)} "
        for name, code in names:
            if f" {name} " in key:
                codes.add(code)
                key = key.replace(f" {name} ", " | ")
    return codes
