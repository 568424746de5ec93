"""Watchlist index and name screening (rapidfuzz).

Every name a list publishes for a party (primary name, each alias, each spelling packed into one
alias field, the original-script name) is normalised once
(:func:`~reference_agents.compliance_monitoring.tools.normalize.normalize_name`: transliterated,
compound name parts split, spelling variants folded) and kept in one flat list of choices, with
its spaces-removed form and its phonetic key. A screened name is normalised the same way and its
``name_score`` (0-100) against a listed name is the best of:

* ``token_sort``: ``fuzz.token_sort_ratio`` (word order does not matter; typos cost in
  proportion to their length);
* ``subset``: ``fuzz.token_set_ratio`` × ``subset_weight`` for names of two or more words given
  in part (``"Francois Bozize"`` for ``"FRANÇOIS YANGOUVONDA BOZIZÉ"``);
* ``joined``: ``fuzz.ratio`` of the names with spaces removed (``"Ri Wonho"`` / ``"Ri Won Ho"``,
  ``"Albaghdadi"`` / ``"al-Baghdadi"``);
* ``phonetic``: ``token_sort_ratio`` of the phonetic keys × ``phonetic_weight`` (``"Джозеф Кони"``
  → ``dzhozef koni`` → ``josef koni`` = ``joseph kony``);
* ``initials``: initials on either side expanded to the other side's words that begin with them,
  then the better of ``token_sort_ratio`` and ``token_set_ratio`` × ``subset_weight``, minus
  ``initial_penalty`` per initial (``"J. Kony"``, ``"F. Bozize"``).

Names scoring at least ``candidate_floor`` are weighed into a match score
(:mod:`~reference_agents.compliance_monitoring.tools.scoring`): alias quality, common-name
penalty, date of birth and country. A party is a candidate when its best match score reaches
``review_threshold``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from rapidfuzz import fuzz, process

from reference_agents.compliance_monitoring.policy import resolve_path
from reference_agents.compliance_monitoring.tools.common_names import load_common_tokens, token_weights
from reference_agents.compliance_monitoring.tools.entries import ListEntry, ListVersion
from reference_agents.compliance_monitoring.tools.identifiers import (
    country_evidence,
    dob_evidence,
    identifier_adjustment,
    identifiers_agree,
)
from reference_agents.compliance_monitoring.tools.list_versions import list_version
from reference_agents.compliance_monitoring.tools.normalize import (
    name_variants,
    normalize_name,
    phonetic_key,
    variant_table,
)
from reference_agents.compliance_monitoring.tools.ofac import ofac_publish_date, parse_ofac_sdn_csv, parse_ofac_sdn_xml
from reference_agents.compliance_monitoring.tools.scoring import (
    alias_quality_weight,
    common_name_penalty,
    distinctiveness,
    expand_initials,
)
from reference_agents.compliance_monitoring.tools.un_list import parse_un_consolidated_xml, un_date_generated


@dataclass(frozen=True)
class NameRecord:
    """One searchable name: ``entry`` indexes :attr:`WatchlistIndex.entries`; ``name`` is as
    published; ``kind`` is ``"primary"`` or the alias quality (``"alias"`` when none)."""

    entry: int
    name: str
    kind: str


@dataclass(frozen=True)
class Normalizer:
    """The name normalisation shared by list names and screened names (policy ``screening``)."""

    variants: tuple[tuple[str, str], ...]
    drop_tokens: frozenset[str]
    prefixes: tuple[str, ...]
    phonetic_rules: tuple[tuple[str, str], ...]

    @cached_property
    def _table(self) -> dict[str, str]:
        return dict(self.variants)

    def __call__(self, name: str) -> str:
        """``name`` normalised (:func:`normalize_name`)."""
        return normalize_name(name, self._table, self.drop_tokens, self.prefixes)

    def phonetic(self, normalized: str) -> str:
        """The phonetic key of an already normalised name (:func:`phonetic_key`)."""
        return phonetic_key(normalized, self.phonetic_rules)


@dataclass(frozen=True)
class WatchlistIndex:
    """Normalised names of all listed parties, ready for ``rapidfuzz.process.extract``.

    Attributes:
        entries: listed parties (UN, then OFAC when configured).
        choices: normalised names; ``choices[i]`` belongs to ``records[i]``.
        records: where each choice comes from.
        joined: ``choices`` without spaces.
        phonetic: phonetic keys of ``choices``.
        with_initials: positions of choices holding a one-letter word.
        weights: token weights (``tools/common_names.py``); ``unseen_weight`` for other tokens.
        normalizer: the normalisation used for list and screened names alike.
        versions: the list files indexed (audit trail).
    """

    entries: tuple[ListEntry, ...]
    choices: tuple[str, ...]
    records: tuple[NameRecord, ...]
    joined: tuple[str, ...]
    phonetic: tuple[str, ...]
    with_initials: tuple[int, ...]
    weights: dict
    unseen_weight: float
    normalizer: Normalizer
    versions: tuple[ListVersion, ...]

    def normalize(self, name: str) -> str:
        """``name`` normalised exactly as the list names were."""
        return self.normalizer(name)


def build_index(entries: list[ListEntry], normalizer: Normalizer, common_tokens: frozenset[str],
                common_token_weight: float, versions: tuple[ListVersion, ...] = ()) -> WatchlistIndex:
    """Index every name variant of ``entries`` (duplicates within one party removed).

    Args:
        entries: the parsed lists.
        normalizer: the policy's normalisation.
        common_tokens: normalised tokens of the common-name table.
        common_token_weight: cap on a common token's weight.
        versions: the list files ``entries`` came from.
    """
    choices: list[str] = []
    records: list[NameRecord] = []
    per_party: list[list[str]] = []
    for i, entry in enumerate(entries):
        seen: list[str] = []
        for text, kind in ((entry.primary_name, "primary"), *((a, q or "alias") for a, q in entry.aliases)):
            for variant in name_variants(text):
                normalised = normalizer(variant)
                if normalised and normalised not in seen:
                    seen.append(normalised)
                    choices.append(normalised)
                    records.append(NameRecord(i, variant, kind))
        per_party.append(seen)
    weights, unseen = token_weights(per_party, common_tokens, common_token_weight)
    return WatchlistIndex(
        entries=tuple(entries),
        choices=tuple(choices),
        records=tuple(records),
        joined=tuple(c.replace(" ", "") for c in choices),
        phonetic=tuple(normalizer.phonetic(c) for c in choices),
        with_initials=tuple(i for i, c in enumerate(choices) if any(len(t) == 1 for t in c.split())),
        weights=weights,
        unseen_weight=unseen,
        normalizer=normalizer,
        versions=versions,
    )


@lru_cache(maxsize=4)
def _cached_index(sources: tuple, normalizer: Normalizer, common_paths: tuple[str, ...],
                  common_token_weight: float) -> WatchlistIndex:
    entries: list[ListEntry] = []
    versions: list[ListVersion] = []
    for kind, path, extra, _mtime in sources:
        if kind == "un":
            parsed = parse_un_consolidated_xml(path)
            versions.append(list_version("UN", path, un_date_generated(path), len(parsed)))
        elif kind == "ofac_xml":
            parsed = parse_ofac_sdn_xml(path)
            versions.append(list_version("OFAC_SDN", path, ofac_publish_date(path), len(parsed)))
        else:
            parsed = parse_ofac_sdn_csv(path, extra)
            # the CSV format carries no date: the version says so rather than guess one
            versions += [list_version("OFAC_SDN", p, None, len(parsed)) for p in (path, extra) if p]
        entries += parsed
    common = load_common_tokens([Path(p) for p in common_paths], normalizer)
    return build_index(entries, normalizer, common, common_token_weight, tuple(versions))


def normalizer_of(screening_policy: dict) -> Normalizer:
    """The :class:`Normalizer` the policy's ``screening`` section describes.

    Raises:
        ValueError: a name variant is listed under two canonical spellings.
    """
    table = variant_table(screening_policy.get("name_variants") or {})
    return Normalizer(
        variants=tuple(sorted(table.items())),
        drop_tokens=frozenset(t.lower() for t in screening_policy.get("drop_tokens") or ()),
        prefixes=tuple(p.lower() for p in screening_policy.get("compound_prefixes") or ()),
        phonetic_rules=tuple((a, b) for a, b in screening_policy.get("phonetic_rules") or ()),
    )


def get_index(screening_policy: dict) -> WatchlistIndex:
    """The index of the lists named in the policy's ``screening`` section, built once per
    process and per set of files (a changed file modification time rebuilds it).

    Raises:
        FileNotFoundError: a configured list or common-name file does not exist.
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
    names = screening_policy["common_names"]
    common_paths = tuple(str(resolve_path(p)) for p in names["files"])
    return _cached_index(tuple(sources), normalizer_of(screening_policy), common_paths, names["common_token_weight"])


def _name_scores(query: str, index: WatchlistIndex, policy: dict) -> dict[int, tuple[float, str]]:
    """``{choice position: (name_score, method)}`` for choices at ``candidate_floor`` or above."""
    floor = policy["candidate_floor"]
    tokens = query.split()
    best: dict[int, tuple[float, str]] = {}

    def keep(pos: int, score: float, method: str) -> None:
        if score >= floor and score > best.get(pos, (0.0, ""))[0]:
            best[pos] = (score, method)

    def extract(text: str, choices: tuple[str, ...], scorer, weight: float = 1.0):
        return process.extract(text, choices, scorer=scorer, score_cutoff=min(100.0, floor / weight), limit=None)

    for _c, score, pos in extract(query, index.choices, fuzz.token_sort_ratio):
        keep(pos, score, "token_sort")
    if len(tokens) >= 2:
        weight = policy["subset_weight"]
        for _c, score, pos in extract(query, index.choices, fuzz.token_set_ratio, weight):
            if len(index.choices[pos].split()) >= 2:
                keep(pos, score * weight, "subset")
    for _c, score, pos in extract(query.replace(" ", ""), index.joined, fuzz.ratio):
        keep(pos, score, "joined")
    weight = policy["phonetic_weight"]
    for _c, score, pos in extract(index.normalizer.phonetic(query), index.phonetic, fuzz.token_sort_ratio, weight):
        keep(pos, score * weight, "phonetic")
    full = [t for t in tokens if len(t) > 1]
    initials_here = full and len(full) < len(tokens)
    # a name with initials is compared with the listed names that hold its full words; listed
    # names with initials are compared with every screened name
    positions = [pos for _c, _s, pos in extract(" ".join(full), index.choices, fuzz.token_set_ratio)] if initials_here else []
    for pos in (*positions, *index.with_initials):
        choice = index.choices[pos].split()
        for a, b in ((tokens, choice), (choice, tokens)):
            expanded = expand_initials(a, b)
            if expanded:
                x, y = " ".join(expanded[0]), " ".join(b)
                score = max(fuzz.token_sort_ratio(x, y), fuzz.token_set_ratio(x, y) * policy["subset_weight"])
                keep(pos, score - policy["initial_penalty"] * expanded[1], "initials")
    return best


def screen_name(name: str, index: WatchlistIndex, policy: dict, *, party_type: str | None = None,
                date_of_birth: str | None = None, country: str | None = None) -> list[dict]:
    """Listed parties whose match score against ``name`` reaches ``policy["review_threshold"]``.

    Args:
        name: the screened customer or counterparty name (any script).
        index: from :func:`get_index` / :func:`build_index`.
        policy: the ``screening`` policy section (thresholds 0-100, weights, ``identifiers``).
        party_type: ``"individual"`` or ``"entity"`` to screen against that type only.
        date_of_birth: the screened person's ``YYYY`` or ``YYYY-MM-DD``, if known.
        country: the screened party's nationality or country (code, name or demonym), if known.

    Returns:
        Up to ``policy["max_candidates"]`` dicts, best first: the party's
        :meth:`ListEntry.summary` plus ``score`` (the match score, 0-100, rounded to 0.1),
        ``name_score`` (0-100), ``match_method``, ``matched_name`` (as published),
        ``matched_name_kind`` (``primary`` or the alias quality), ``alias_quality_weight``,
        ``name_distinctiveness``, ``common_name_penalty`` (points), ``dob_evidence``,
        ``country_evidence``, ``identifier_points``, ``identifiers_agree`` and ``strong_match``
        (score ≥ ``strong_match_threshold``).

    Raises:
        ValueError: ``name`` has no letters or digits after normalisation.
    """
    query = index.normalize(name)
    if not query:
        raise ValueError(f"name {name!r} has no letters or digits to screen")
    q_tokens = query.split()
    names = policy["common_names"]
    per_entry: dict[int, dict] = {}
    for pos, (name_score, method) in _name_scores(query, index, policy).items():
        record = index.records[pos]
        entry = index.entries[record.entry]
        if party_type and entry.party_type != party_type:
            continue
        choice = index.choices[pos].split()
        d = distinctiveness(q_tokens, choice, index.normalizer.phonetic, index.weights, index.unseen_weight,
                            names["initial_weight"], names["token_match_ratio"])
        quality = alias_quality_weight(record.kind, policy["alias_quality_weights"])
        penalty = common_name_penalty(d, names["penalty"], names["min_distinctiveness"])
        weighed = name_score * quality - penalty
        if record.entry not in per_entry or weighed > per_entry[record.entry]["weighed"]:
            per_entry[record.entry] = {"weighed": weighed, "record": record, "name_score": name_score,
                                       "method": method, "quality": quality, "d": d, "penalty": penalty}
    out = []
    for i, hit in per_entry.items():
        entry = index.entries[i]
        dob = dob_evidence(date_of_birth, entry.birth_dates, policy["identifiers"]["approximate_tolerance_years"])
        listed_countries = entry.nationalities if entry.party_type == "individual" else entry.countries + entry.nationalities
        ctry = country_evidence(country, listed_countries)
        points = identifier_adjustment(dob, ctry, policy["identifiers"])
        score = max(0.0, min(100.0, hit["weighed"] + points))
        if score < policy["review_threshold"]:
            continue
        out.append({
            **entry.summary(),
            "score": round(score, 1),
            "name_score": round(hit["name_score"], 1),
            "match_method": hit["method"],
            "matched_name": hit["record"].name,
            "matched_name_kind": hit["record"].kind,
            "alias_quality_weight": hit["quality"],
            "name_distinctiveness": round(hit["d"], 2),
            "common_name_penalty": round(hit["penalty"], 1),
            "dob_evidence": dob,
            "country_evidence": ctry,
            "identifier_points": points,
            "identifiers_agree": identifiers_agree(dob, ctry, entry.party_type),
            "strong_match": score >= policy["strong_match_threshold"],
        })
    out.sort(key=lambda c: (-c["score"], c["reference_number"]))
    return out[: policy["max_candidates"]]
