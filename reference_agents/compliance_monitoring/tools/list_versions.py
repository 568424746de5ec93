"""The audit trail of the lists a screening used: each file's source, publisher's date and
SHA-256, and whether the list is older than the policy allows on the screening date."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

from reference_agents.compliance_monitoring.tools.entries import ListVersion


class StaleWatchlistError(ValueError):
    """A list is older than ``screening.max_list_age_days`` (or undated) and the policy's
    ``stale_list_action`` is ``refuse``: no screening result is produced from it."""


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of the file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def list_version(source: str, path: str | Path, date_generated: str | None, parties: int) -> ListVersion:
    """The :class:`ListVersion` of one list file (hashes the file)."""
    return ListVersion(source, Path(path).name, date_generated, file_sha256(path), parties)


def version_status(version: ListVersion, as_of: date, max_age_days: int) -> dict:
    """One list's audit record on the screening date.

    Args:
        version: the list file's version.
        as_of: the screening date.
        max_age_days: the oldest list the policy accepts, in days before ``as_of``.

    Returns:
        ``source``, ``file``, ``date_generated``, ``sha256``, ``parties``, ``age_days`` (whole
        days from the list's own date to ``as_of``; ``None`` when the list has no date) and
        ``stale`` (older than ``max_age_days``, or undated: an age that cannot be shown is
        not taken as fresh).
    """
    age = None
    if version.date_generated:
        age = (as_of - date.fromisoformat(version.date_generated[:10])).days
    return {
        "source": version.source,
        "file": version.file,
        "date_generated": version.date_generated,
        "sha256": version.sha256,
        "parties": version.parties,
        "age_days": age,
        "stale": age is None or age > max_age_days,
    }


def check_staleness(records: list[dict], action: str, max_age_days: int) -> bool:
    """Whether any list is stale; raises instead when the policy refuses stale lists.

    Args:
        records: :func:`version_status` results.
        action: ``flag`` (report ``WATCHLIST_STALE`` and go on) or ``refuse``.
        max_age_days: for the error message.

    Raises:
        StaleWatchlistError: a list is stale and ``action`` is ``refuse``.
        ValueError: ``action`` is neither.
    """
    if action not in ("flag", "refuse"):
        raise ValueError(f"screening.stale_list_action must be 'flag' or 'refuse', got {action!r}")
    stale = [r for r in records if r["stale"]]
    if stale and action == "refuse":
        names = ", ".join(f"{r['source']} {r['file']} (dated {r['date_generated'] or 'unknown'})" for r in stale)
        raise StaleWatchlistError(f"watchlist older than screening.max_list_age_days={max_age_days}: {names}")
    return bool(stale)
