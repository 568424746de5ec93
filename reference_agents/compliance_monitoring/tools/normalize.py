"""Name normalisation for watchlist screening.

Screening compares names written by different clerks in different scripts, so both the
list names and the screened name are folded to one comparable form before fuzzy matching:
transliterated to ASCII (``anyascii``: diacritics, Cyrillic, Arabic, CJK), lower-cased,
apostrophes/ayn/hamza marks dropped (``Sa’d`` → ``sad``), other punctuation turned into
word breaks (``AL-RAHMAN`` → ``al rahman``), name parts written together split at the policy's
``compound_prefixes`` (``abdulrahman`` → ``abdul rahman``), and common transliteration variants
of a token mapped to one spelling (``mohammed``/``mohamed`` → ``muhammad``) from the policy's
``name_variants`` table. :func:`phonetic_key` folds spellings further (``dzhozef koni`` and
``joseph kony`` → ``josef koni``) for one of the screener's scorers.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

from anyascii import anyascii

_MARKS = re.compile(r"['`´’‘ʻʼʿʾ\"“”]")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def variant_table(name_variants: Mapping[str, list[str]]) -> dict[str, str]:
    """Invert ``{canonical: [variant, ...]}`` into ``{variant: canonical}`` (all lower-case).

    Raises:
        ValueError: one variant is listed under two canonical spellings.
    """
    table: dict[str, str] = {}
    for canonical, variants in name_variants.items():
        for variant in variants:
            key = variant.lower()
            if key in table and table[key] != canonical.lower():
                raise ValueError(f"name variant {variant!r} maps to both {table[key]!r} and {canonical!r}")
            table[key] = canonical.lower()
    return table


def split_compound(token: str, prefixes: tuple[str, ...], min_rest: int = 4) -> list[str]:
    """``token`` split after the longest of ``prefixes`` it starts with, when at least ``min_rest``
    letters follow (``abdulrahman`` → ``["abdul", "rahman"]``; ``abdullah`` stays whole: ``lah``
    is too short to be a name part); otherwise ``[token]``."""
    for prefix in sorted(prefixes, key=len, reverse=True):
        if token.startswith(prefix) and len(token) - len(prefix) >= min_rest:
            return [prefix, token[len(prefix):]]
    return [token]


def normalize_name(
    name: str,
    variants: Mapping[str, str] | None = None,
    drop_tokens: frozenset[str] = frozenset(),
    prefixes: tuple[str, ...] = (),
) -> str:
    """The comparable form of ``name``: ASCII, lower-case, single-spaced tokens.

    Args:
        name: a person's or organisation's name in any script.
        variants: ``{token: canonical token}`` from :func:`variant_table`.
        drop_tokens: tokens removed after variant mapping (Arabic article ``al``/``el``,
            written attached, hyphenated or apart, so it is left out on both sides).
        prefixes: name parts often written attached to the next one (``abdul``, ``abu``);
            split off by :func:`split_compound` before variant mapping.

    Returns:
        e.g. ``"Mevlüt ‘ABD AL-RAHMAN"`` → ``"mevlut abd al rahman"``; ``""`` when nothing
        alphanumeric remains.
    """
    # NFKC first so compatibility forms (full-width letters, ligatures) transliterate cleanly.
    ascii_text = anyascii(unicodedata.normalize("NFKC", name)).lower()
    tokens = _NON_ALNUM.sub(" ", _MARKS.sub("", ascii_text)).split()
    if prefixes:
        tokens = [part for t in tokens for part in split_compound(t, prefixes)]
    if variants:
        tokens = [variants.get(t, t) for t in tokens]
    return " ".join(t for t in tokens if t not in drop_tokens)


_DOUBLED = re.compile(r"([a-z])\1+")


def phonetic_key(normalized: str, rules: Sequence[tuple[str, str]]) -> str:
    """A looser form of an already normalised name for the phonetic scorer: each ``(from, to)``
    rule applied in order to every token, then doubled letters collapsed.

    With the policy's rules (``dzh``→``j``, ``ph``→``f``, ``y``→``i``, ``z``→``s``…) the ASCII
    transliteration of a Cyrillic spelling meets the English one: ``"dzhozef koni"`` and
    ``"joseph kony"`` both become ``"josef koni"``.
    """
    tokens = []
    for token in normalized.split():
        for old, new in rules:
            token = token.replace(old, new)
        tokens.append(_DOUBLED.sub(r"\1", token))
    return " ".join(tokens)


_ORIGINAL_SCRIPT = re.compile(r"original script\s*:?", re.IGNORECASE)
_EMPTY_PARENS = re.compile(r"\(\s*\)")
_INNER = re.compile(r"\(([^()]*)")
_PAREN_GROUP = re.compile(r"\([^()]*\)?")
_WORD = re.compile(r"[A-Za-z0-9]+")


def _collapse(text: str) -> str:
    return " ".join(text.split()).strip(" ,.;-–()")


def _is_latin(text: str) -> bool:
    return all("LATIN" in unicodedata.name(ch, "") for ch in text if ch.isalpha())


def _is_acronym_of(acronym: str, name: str) -> bool:
    """``"AAS-T"`` of ``"ANSAR AL-SHARI’A IN TUNISIA"``: upper-case letters that are a
    subsequence of the name's word initials."""
    letters = [ch for ch in acronym if ch.isalnum()]
    if not (2 <= len(letters) <= 12) or not acronym.replace("-", "").isupper() or " " in acronym:
        return False
    initials = iter(w[0].upper() for w in _WORD.findall(anyascii(name)))
    return all(ch in initials for ch in letters)


def name_variants(text: str) -> list[str]:
    """The separate names written in one list field, whole text first.

    UN list aliases pack several spellings into one field, e.g.
    ``"حسن غول (Hassan Ghul; Hassan Gul; Hasan Gul)"``,
    ``"Abu Muhammad (original script: Абу Мухаммад)"`` or ``"… Department (PAD)"``.
    Returned are the whole text without brackets, the text outside brackets, and a
    bracketed part when it is a ``;``-separated list of names, the name in a non-Latin
    script, a several-word Latin transliteration of a non-Latin name, or the acronym of
    the name. Other bracketed remarks (``"(combat name)"``, ``"(Hong Kong)"``)
    are not names of their own and are not split out.

    Returns:
        De-duplicated names with whitespace collapsed, in order; pieces with fewer than
        two alphanumeric characters are dropped.
    """
    cleaned = _EMPTY_PARENS.sub(" ", _ORIGINAL_SCRIPT.sub(" ", text))
    outer = _collapse(_PAREN_GROUP.sub(" ", cleaned))
    pieces = [_collapse(cleaned.replace("(", " ").replace(")", " ")), outer, *(_collapse(p) for p in outer.split(";"))]
    for inner in _INNER.findall(cleaned):
        parts = [_collapse(p) for p in inner.split(";")]
        inner_text = _collapse(inner)
        transliteration = not _is_latin(outer) and len(inner_text.split()) >= 2
        if len(parts) > 1 or not _is_latin(inner_text) or transliteration or _is_acronym_of(inner_text, outer):
            pieces.extend(parts)
    out: list[str] = []
    for piece in pieces:
        if sum(ch.isalnum() for ch in piece) >= 2 and piece not in out:
            out.append(piece)
    return out
