"""The agent's declarative policy: ``policy.yaml`` merged with the spec's ``config``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reference_agents.common import policy as common_policy

PACKAGE_DIR = Path(__file__).resolve().parent
POLICY_PATH = PACKAGE_DIR / "policy.yaml"
# A spec may add name variants (e.g. a transliteration table) and weights for the alias labels of
# other lists (e.g. OFAC "f.k.a."); each entry is checked by the screener.
OPEN_KEYS = ("screening.name_variants", "screening.alias_quality_weights")
# Reason codes an analyst is asked about; each needs its text in ``reason_texts``.
REVIEW_CODES = ("WATCHLIST_POTENTIAL_MATCH",)


def load_policy(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """``policy.yaml`` with ``overrides`` merged in (nested mappings key by key).

    Args:
        overrides: the spec's ``config`` mapping, e.g. ``{"screening": {"review_threshold": 90}}``.

    Returns:
        The policy mapping (``screening``, ``monitoring`` and ``reason_texts`` sections).

    Raises:
        ValueError: an override names a key the policy does not have (a typo would otherwise
            silently keep the default), or a review reason code has no text.
    """
    policy = common_policy.load_policy(POLICY_PATH, overrides, open_keys=OPEN_KEYS)
    missing = [code for code in REVIEW_CODES if not (policy["reason_texts"] or {}).get(code)]
    if missing:
        raise ValueError(f"reason_texts: no text for {', '.join(missing)}")
    return policy


def resolve_path(path: str | None) -> Path | None:
    """A policy file path: absolute as given, relative to the agent's folder otherwise."""
    if not path:
        return None
    p = Path(path)
    return p if p.is_absolute() else PACKAGE_DIR / p
