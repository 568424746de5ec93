"""Validation of the agent's default ``spec.yaml`` against the platform's spec model."""

from __future__ import annotations

from pathlib import Path

import yaml

from shipway.spec import SpecError, parse_spec


def spec_errors(path: str | Path) -> list[tuple[str, str]]:
    """``(field, message)`` problems of the spec file at ``path``; empty when valid."""
    with open(path, encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    try:
        parse_spec(raw)
    except SpecError as exc:
        return exc.errors
    return []
