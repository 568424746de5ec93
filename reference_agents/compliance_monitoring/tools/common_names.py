"""How common each name token is: from the sanctions list itself and from a table of the most
common given names and surnames by country, so that a match made only of common tokens
("Mohammed Ali") weighs less than one on a rare token ("Kony").

Token weight = inverse document frequency in the list, ``log10((N + 1) / (df + 1))`` with ``N``
the listed parties and ``df`` the parties with the token in any of their names (``muhammad``:
df 195 of 1,018 → 0.72; ``kony``: df 3 → 2.41; a token no party has → 3.01); a token in the
common-name table is capped at ``common_token_weight``; a single letter (an initial) weighs
``initial_weight``.

The table is the CC0 "popular names by country" dataset (``data/common_forenames_by_country.csv``
and ``data/common_surnames_by_country.csv``, from Wikipedia's lists of most popular given names
and most common surnames, July 2023; see ``data/PROVENANCE.md``).
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path


def load_common_tokens(paths: Iterable[Path], normalize: Callable[[str], str]) -> frozenset[str]:
    """The normalised tokens of every name in the common-name CSV files.

    Args:
        paths: CSV files with a header holding ``Localized Name`` and ``Romanized Name``
            columns (both are read: the localized name is transliterated by ``normalize``).
        normalize: the screener's name normalisation (so ``Mohammed`` lands on ``muhammad``).

    Returns:
        Tokens of at least two letters.

    Raises:
        FileNotFoundError: a file is missing. KeyError: a file lacks one of the two columns.
    """
    tokens: set[str] = set()
    for path in paths:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            for row in csv.DictReader(fh):
                for column in ("Localized Name", "Romanized Name"):
                    tokens.update(t for t in normalize(row[column] or "").split() if len(t) >= 2)
    return frozenset(tokens)


def token_weights(names_per_party: Iterable[Iterable[str]], common: frozenset[str],
                  common_token_weight: float) -> tuple[dict[str, float], float]:
    """``({token: weight}, weight of an unseen token)`` as described in the module docstring.

    Args:
        names_per_party: for each listed party, its normalised names.
        common: tokens of the common-name table.
        common_token_weight: cap for a token in ``common``.
    """
    df: Counter[str] = Counter()
    parties = 0
    for names in names_per_party:
        parties += 1
        df.update({t for name in names for t in name.split()})
    unseen = math.log10(parties + 1)
    weights = {t: math.log10((parties + 1) / (n + 1)) for t, n in df.items()}
    for t in common:
        weights[t] = min(weights.get(t, unseen), common_token_weight)
    return weights, unseen
