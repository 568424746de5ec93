"""From name similarity to a match score: initials, how distinctive the matched name is, the
alias's quality, and the secondary identifiers.

``score = name_score × alias_quality_weight − common_name_penalty + identifier points``, clipped
to 0-100, where

* ``name_score`` (0-100) is the best of the screener's similarity measures (``tools/watchlist.py``);
* ``alias_quality_weight`` comes from the list's own label of the matched name (UN ``QUALITY``
  ``Low`` and OFAC ``weak`` aliases weigh less than primary names and ``Good`` aliases);
* ``common_name_penalty = penalty × max(0, 1 − D / min_distinctiveness)``, ``D`` the summed weight
  (``tools/common_names.py``) of the listed name's tokens that the screened name matched: an
  exact hit on "Mohammed Ali" (``D`` ≈ 1.2) loses most of ``penalty``, one on "Joseph Kony"
  (``D`` ≈ 2.9) almost none;
* identifier points come from the date of birth and country evidence (``tools/identifiers.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from rapidfuzz import fuzz


def expand_initials(tokens: list[str], other: list[str]) -> tuple[list[str], int] | None:
    """``tokens`` with each single letter replaced by an unused token of ``other`` starting with it.

    Args:
        tokens: the name holding initials (``["m", "a", "khan"]``).
        other: the name compared with (``["muhammad", "amin", "khan"]``).

    Returns:
        ``(expanded tokens, number of initials expanded)``, or ``None`` when there is no initial
        or one cannot be expanded (``"j kony"`` against ``"ali kony"``).
    """
    full = {t for t in tokens if len(t) > 1}
    free = [t for t in other if t not in full]
    out, expanded = [], 0
    for token in tokens:
        if len(token) != 1:
            out.append(token)
            continue
        match = next((t for t in free if len(t) > 1 and t[0] == token), None)
        if match is None:
            return None
        free.remove(match)
        out.append(match)
        expanded += 1
    return (out, expanded) if expanded else None


def merge_written_together(tokens: list[str], weights: list[float], other: list[str]) -> tuple[list[str], list[float]]:
    """``tokens`` with each run of two or three adjacent tokens that ``other`` writes as one word
    merged into that word, its weight the sum of theirs (``["ri", "won", "ho"]`` against
    ``["riwon", "ho"]`` → ``["riwon", "ho"]``), so a name written together keeps the weight of
    its parts."""
    joined = set(other)
    out_t, out_w, i = [], [], 0
    while i < len(tokens):
        for n in (3, 2):
            if i + n <= len(tokens) and "".join(tokens[i:i + n]) in joined:
                out_t.append("".join(tokens[i:i + n]))
                out_w.append(sum(weights[i:i + n]))
                i += n
                break
        else:
            out_t.append(tokens[i])
            out_w.append(weights[i])
            i += 1
    return out_t, out_w


def _token_similarity(a: str, b: str, phon_a: str, phon_b: str) -> float:
    if len(a) == 1 or len(b) == 1:
        return 100.0 if a[0] == b[0] else 0.0
    return max(fuzz.ratio(a, b), fuzz.ratio(phon_a, phon_b))


def distinctiveness(query: list[str], choice: list[str], phonetic: Callable[[str], str],
                    weights: Mapping[str, float], unseen: float, initial_weight: float, min_ratio: float) -> float:
    """Summed weight of the listed name's tokens that the screened name matched.

    Parts one name writes together and the other apart are merged first
    (:func:`merge_written_together`). Each screened token is then paired with its most similar unused listed token (edit-distance ratio of
    the tokens or of their phonetic keys; an initial pairs with a token it begins); a pair at
    ``min_ratio`` (0-100) or above adds the lower of the two tokens' weights (``initial_weight``
    when either side is an initial), so "Ali" matched to the rarer "Wali" still weighs as "Ali".
    Tokens that match nothing add nothing, so a typo cannot make a name look distinctive.

    Args:
        query, choice: normalised tokens of the screened and the listed name.
        phonetic: a token's phonetic key.
        weights: ``{token: weight}``; ``unseen`` for a token not in it.
        initial_weight: weight of an initial.
        min_ratio: least token similarity (0-100) that counts as matched.
    """
    q_weights = [initial_weight if len(t) == 1 else weights.get(t, unseen) for t in query]
    c_weights = [initial_weight if len(t) == 1 else weights.get(t, unseen) for t in choice]
    choice, c_weights = merge_written_together(choice, c_weights, query)
    query, q_weights = merge_written_together(query, q_weights, choice)
    c_phon = [phonetic(t) for t in choice]
    used: set[int] = set()
    total = 0.0
    for q, qw in zip(query, q_weights):
        qp = phonetic(q)
        best, best_j = 0.0, None
        for j, c in enumerate(choice):
            if j not in used:
                sim = _token_similarity(q, c, qp, c_phon[j])
                if sim > best:
                    best, best_j = sim, j
        if best_j is not None and best >= min_ratio:
            used.add(best_j)
            initial = len(q) == 1 or len(choice[best_j]) == 1
            total += initial_weight if initial else min(qw, c_weights[best_j])
    return total


def common_name_penalty(d: float, penalty: float, min_distinctiveness: float) -> float:
    """Points taken off a name match whose matched tokens weigh ``d`` in total (see module docstring)."""
    return penalty * max(0.0, 1.0 - d / min_distinctiveness)


def alias_quality_weight(kind: str, weights: Mapping[str, float]) -> float:
    """Weight (0-1) of a matched name by the list's label for it.

    Args:
        kind: ``primary`` or the alias quality as published (``Good``, ``Low``, ``a.k.a.``,
            ``a.k.a. weak``…).
        weights: the policy's ``alias_quality_weights``: label words (lower case) to weights,
            with ``default`` for labels that name none of them.

    Returns:
        The lowest weight among the label's words found in ``weights``, else ``default``.
    """
    found = [w for word, w in weights.items() if word != "default" and word in kind.lower().split()]
    return min(found) if found else weights["default"]
