"""Watchlist index and fuzzy name screening (rapidfuzz).

Every name a list publishes for a party (primary name, each alias, each spelling packed
into one alias field, the original-script name) is normalised once
(:func:`~reference_agents.compliance_monitoring.tools.normalize.normalize_name`) and kept
in one flat list of choices. Screening normalises the query the same way and runs
``rapidfuzz.process.extract`` with ``fuzz.token_sort_ratio`` — tokens sorted before the
edit-distance ratio, so word order does not matter while typos and transliteration
differences cost points in proportion to their length — and ``score_cutoff``; hits are
grouped per listed party, best name first.

A second pass scores a query of two or more words against list names of two or more
words with ``fuzz.token_set_ratio`` times ``subset_weight`` (policy, 0.95): it finds a
party screened by part of a listed name (``"Francois Bozize"`` for
``"FRANÇOIS YANGOUVONDA BOZIZÉ"``), which token_sort_ratio scores ~70, while the weight
keeps such partial matches below an exact one and single-word names (``"Ahmad"``) out of
the subset rule, where they would match every name containing that word. On the UN list
with cutoff 86 this found 146/148 listed names with reversed order plus a one-letter
typo, 107/107 with middle names dropped, and flagged 3 of 364 random common names
(all sharing two name words with a listed person).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rapidfuzz import fuzz, process

from reference_agents.compliance_monitoring.tools.entries import ListEntry
from reference_agents.compliance_monitoring.tools.normalize import name_variants, normalize_name, variant_table
from reference_agents.compliance_monitoring.tools.ofac import parse_ofac_sdn_csv, parse_ofac_sdn_xml
from reference_agents.compliance_monitoring.policy import resolve_path
from reference_agents.compliance_monitoring.tools.un_list import parse_un_consolidated_xml


@dataclass(frozen=True)
class NameRecord:
    """One searchable name: ``entry`` indexes :attr:`WatchlistIndex.entries`; ``name`` is as
    published; ``kind`` is ``"primary"`` or the alias quality (``"alias"`` when none)."""

    entry: int
    name: str
    kind: str


@dataclass(frozen=True)
class WatchlistIndex:
    """Normalised names of all listed parties, ready for ``rapidfuzz.process.extract``.

    Attributes:
        entries: listed parties (UN, then OFAC when configured).
        choices: normalised names; ``choices[i]`` belongs to ``records[i]``.
        records: where each choice comes from.
        token_counts: words in each choice.
        variants: token variant table used for normalisation.
        drop_tokens: tokens left out during normalisation.
    """

    entries: tuple[ListEntry, ...]
    choices: tuple[str, ...]
    records: tuple[NameRecord, ...]
    token_counts: tuple[int, ...]
    variants: dict
    drop_tokens: frozenset[str]

    def normalize(self, name: str) -> str:
        """``name`` normalised exactly as the list names were."""
        return normalize_name(name, self.variants, self.drop_tokens)


def build_index(entries: list[ListEntry], variants: dict[str, str], drop_tokens: frozenset[str]) -> WatchlistIndex:
    """Index every name variant of ``entries`` (duplicates within one party removed)."""
    choices: list[str] = []
    records: list[NameRecord] = []
    for i, entry in enumerate(entries):
        seen: set[str] = set()
        for text, kind in ((entry.primary_name, "primary"), *((a, q or "alias") for a, q in entry.aliases)):
            for variant in name_variants(text):
                normalised = normalize_name(variant, variants, drop_tokens)
                if normalised and normalised not in seen:
                    seen.add(normalised)
                    choices.append(normalised)
                    records.append(NameRecord(i, variant, kind))
    return WatchlistIndex(
        tuple(entries), tuple(choices), tuple(records), tuple(len(c.split()) for c in choices), variants, drop_tokens
    )


@lru_cache(maxsize=4)
def _cached_index(sources: tuple, variants: tuple, drop_tokens: frozenset[str]) -> WatchlistIndex:
    entries: list[ListEntry] = []
    for kind, path, extra, _mtime in sources:
        if kind == "un":
            entries += parse_un_consolidated_xml(path)
        elif kind == "ofac_xml":
            entries += parse_ofac_sdn_xml(path)
        else:
            entries += parse_ofac_sdn_csv(path, extra)
    return build_index(entries, dict(variants), drop_tokens)


def get_index(screening_policy: dict) -> WatchlistIndex:
    """The index of the lists named in the policy's ``screening`` section, built once per
    process and per set of files (a changed file modification time rebuilds it).

    Raises:
        FileNotFoundError: a configured list file does not exist.
        ValueError: a list file is not in its documented format.
    """
    sources = []
    for kind, key, extra_key in (("un", "un_list_path", None), ("ofac_xml", "ofac_sdn_xml_path", None),
                                 ("ofac_csv", "ofac_sdn_csv_path", "ofac_alt_csv_path")):
        path = resolve_path(screening_policy.get(key))
        if path is None:
            continue
        if not path.exists():
            raise FileNotFoundError(f"screening.{key}: list file {path} does not exist")
        extra = resolve_path(screening_policy.get(extra_key)) if extra_key else None
        sources.append((kind, str(path), str(extra) if extra else None, Path(path).stat().st_mtime))
    table = variant_table(screening_policy.get("name_variants") or {})
    drop = frozenset(t.lower() for t in screening_policy.get("drop_tokens") or ())
    return _cached_index(tuple(sources), tuple(sorted(table.items())), drop)


def screen_name(
    name: str,
    index: WatchlistIndex,
    *,
    score_cutoff: float,
    limit: int = 5,
    subset_weight: float = 0.95,
    party_type: str | None = None,
) -> list[dict]:
    """Listed parties whose names score at least ``score_cutoff`` against ``name``.

    Args:
        name: the screened customer or counterparty name (any script).
        index: from :func:`get_index` / :func:`build_index`.
        score_cutoff: minimum score, 0-100.
        limit: most parties returned.
        subset_weight: factor (0-1) applied to token_set_ratio for multi-word names.
        party_type: ``"individual"`` or ``"entity"`` to screen against that type only.

    Returns:
        Up to ``limit`` dicts, best first: the party's :meth:`ListEntry.summary` plus
        ``score`` (0-100, rounded to 0.1), ``matched_name`` (the list name that scored best,
        as published) and ``matched_name_kind`` (``primary`` or the alias quality).

    Raises:
        ValueError: ``name`` has no letters or digits after normalisation.
    """
    query = index.normalize(name)
    if not query:
        raise ValueError(f"name {name!r} has no letters or digits to screen")
    scores: dict[int, float] = {
        pos: score
        for _c, score, pos in process.extract(
            query, index.choices, scorer=fuzz.token_sort_ratio, score_cutoff=score_cutoff, limit=None
        )
    }
    if len(query.split()) >= 2 and score_cutoff <= 100 * subset_weight:
        for _c, score, pos in process.extract(
            query, index.choices, scorer=fuzz.token_set_ratio, score_cutoff=score_cutoff / subset_weight, limit=None
        ):
            if index.token_counts[pos] >= 2:
                scores[pos] = max(scores.get(pos, 0.0), score * subset_weight)
    best: dict[int, tuple[float, NameRecord]] = {}
    for pos, score in scores.items():
        record = index.records[pos]
        entry = index.entries[record.entry]
        if party_type and entry.party_type != party_type:
            continue
        if record.entry not in best or score > best[record.entry][0]:
            best[record.entry] = (score, record)
    ranked = sorted(best.values(), key=lambda item: (-item[0], index.entries[item[1].entry].reference_number))
    return [
        {
            **index.entries[record.entry].summary(),
            "score": round(score, 1),
            "matched_name": record.name,
            "matched_name_kind": "primary" if record.kind == "primary" else record.kind,
        }
        for score, record in ranked[:limit]
    ]
