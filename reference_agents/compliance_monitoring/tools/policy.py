"""The agent's declarative policy: ``policy.yaml`` merged with the spec's ``config``."""

from __future__ import annotations

from pathlib import Path

import yaml

from reference_agents.common.config import deep_merge

PACKAGE_DIR = Path(__file__).resolve().parent.parent
POLICY_PATH = PACKAGE_DIR / "policy.yaml"


def load_policy(overrides: dict | None = None) -> dict:
    """``policy.yaml`` with ``overrides`` merged in (nested mappings key by key).

    Args:
        overrides: the spec's ``config`` mapping, e.g. ``{"screening": {"review_threshold": 90}}``.

    Returns:
        The policy mapping (``screening`` and ``monitoring`` sections).

    Raises:
        ValueError: an override names a section or rule that the policy does not have
            (a typo would otherwise silently keep the default).
    """
    with open(POLICY_PATH, encoding="utf-8") as fh:
        policy = yaml.safe_load(fh)
    overrides = overrides or {}
    for section, value in overrides.items():
        if section not in policy:
            raise ValueError(f"unknown policy section {section!r}; known: {', '.join(policy)}")
        if isinstance(value, dict):
            unknown = set(value) - set(policy[section])
            if unknown:
                raise ValueError(f"unknown keys in policy section {section!r}: {', '.join(sorted(unknown))}")
    return deep_merge(policy, overrides)


def resolve_path(path: str | None) -> Path | None:
    """A policy file path: absolute as given, relative to the agent's folder otherwise."""
    if not path:
        return None
    p = Path(path)
    return p if p.is_absolute() else PACKAGE_DIR / p
