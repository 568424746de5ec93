"""The backup catalog that survives the database: one ``shipway_backup.json`` per base backup, next to it.

Layout of the backup directory (``SHIPWAY_BACKUP_DIR``, default ``<state_dir>/backups``)::

    base/<backup_id>/pgdata/              pg_basebackup's plain-format output (with backup_manifest)
    base/<backup_id>/temporal.sqlite      the Temporal dev server's SQLite file, copied consistently
    base/<backup_id>/shipway_backup.json  this module's :class:`BackupRecord`
    wal/<segment>.gz                      archived WAL (shipway/stack/postgres.py archive_command)

The ``backups`` table holds the same facts for the console and queries; a restore reads this
catalog instead (and its copy in S3, :mod:`activities.backup_s3`), because it runs when the
database is gone. Backup ids are UTC stamps followed by the kind, so they sort by time.
"""

from __future__ import annotations

import fcntl
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

from temporalio.exceptions import ApplicationError

CATALOG_FILE = "shipway_backup.json"
PGDATA_DIR = "pgdata"
TEMPORAL_FILE = "temporal.sqlite"
BASE_DIR = "base"
WAL_DIR = "wal"
FULL, INCREMENTAL = "full", "incremental"
# A WAL segment's name: timeline, then 16 hex digits of position; anything after (".partial",
# ".00000028.backup", ".gz") does not change where it sits. Timeline history files have no position.
_SEGMENT = re.compile(r"^[0-9A-F]{8}([0-9A-F]{16})")
_LABEL_START = re.compile(r"^START WAL LOCATION: (\S+) \(file ([0-9A-F]{24})\)", re.MULTILINE)


@contextmanager
def locked(backup_dir: Path, shared: bool = False) -> Iterator[None]:
    """Hold the backup directory's lock (across processes): exclusive for a base backup or a prune,
    shared for restores, so retention never deletes what a restore is reading.

    Raises:
        ApplicationError (``BackupBusy``, retryable): the lock is held the other way.
    """
    backup_dir.mkdir(parents=True, exist_ok=True)
    with (backup_dir / ".backup.lock").open("a") as fh:
        try:
            fcntl.flock(fh, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            holder = "a base backup or prune" if shared else "a backup, prune or restore"
            raise ApplicationError(f"{holder} holds {backup_dir / '.backup.lock'}; try again", type="BackupBusy") from exc
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class CatalogError(LookupError):
    """A backup (or a link of its chain) is not in the catalog, or none fits the request."""


@dataclass
class BackupRecord:
    """One base backup (the ``backups`` table's facts): times ISO 8601 UTC, ``size_bytes`` of its folder,
    ``start_wal`` the first WAL file it needs, ``stop_lsn`` where it is consistent."""

    id: str
    kind: str
    parent_id: str | None
    label: str
    path: str
    s3_url: str | None
    start_lsn: str
    stop_lsn: str
    start_wal: str
    timeline: int
    started_at: str
    finished_at: str
    size_bytes: int
    verified: bool
    verify_detail: str
    temporal_db_copied: bool
    started_by: str

    @property
    def started(self) -> datetime:
        """``started_at`` as an aware datetime."""
        return datetime.fromisoformat(self.started_at)

    @property
    def finished(self) -> datetime:
        """``finished_at`` as an aware datetime."""
        return datetime.fromisoformat(self.finished_at)

    def to_json(self) -> str:
        """The record as the JSON stored next to the backup."""
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> BackupRecord:
        """A record from its JSON (unknown keys, from a later version, are ignored).

        Raises:
            ValueError: not JSON, or a field is missing.
        """
        data = json.loads(text)
        names = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in names})
        except TypeError as exc:
            raise ValueError(f"not a backup record: {exc}") from exc


def new_backup_id(kind: str, now: datetime | None = None) -> str:
    """``<UTC yyyymmddThhmmss><ms>Z-<kind>``, e.g. ``20250601T020000123Z-full``: sorts by time."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{now:%Y%m%dT%H%M%S}{now.microsecond // 1000:03d}Z-{kind}"


def write_record(folder: Path, record: BackupRecord) -> None:
    """Write ``record`` as ``folder/shipway_backup.json`` (atomically: a reader never sees half of it)."""
    tmp = folder / f".{CATALOG_FILE}.tmp"
    tmp.write_text(record.to_json())
    tmp.replace(folder / CATALOG_FILE)


def read_local(backup_dir: Path) -> dict[str, BackupRecord]:
    """Every backup under ``backup_dir/base`` with a readable record, by id (a folder without one is a
    backup that never finished, and is skipped)."""
    out = {}
    for path in sorted((backup_dir / BASE_DIR).glob(f"*/{CATALOG_FILE}")):
        try:
            record = BackupRecord.from_json(path.read_text())
        except (OSError, ValueError):
            continue
        out[record.id] = record
    return out


def chain_of(records: dict[str, BackupRecord], backup_id: str) -> list[BackupRecord]:
    """The backups a restore of ``backup_id`` combines: its full backup first, ``backup_id`` last.

    Raises:
        CatalogError: ``backup_id`` or one of its parents is not in ``records``.
    """
    chain, current = [], backup_id
    while current is not None:
        if current not in records:
            missing = "backup" if current == backup_id else f"parent {current} of backup"
            raise CatalogError(f"{missing} {backup_id} is not in the catalog (local or S3)")
        chain.append(records[current])
        current = records[current].parent_id
    return chain[::-1]


def newest_full(records: dict[str, BackupRecord]) -> BackupRecord | None:
    """The newest verified full backup, or None."""
    fulls = [r for r in records.values() if r.kind == FULL and r.verified]
    return max(fulls, key=lambda r: r.id, default=None)


def usable_for(records: dict[str, BackupRecord], target: datetime | None) -> BackupRecord:
    """The backup to restore ``target`` from: the newest verified one whose whole chain is verified and
    that was consistent before ``target`` (finished at or before it: recovery cannot stop before a
    backup's end); the newest of all when ``target`` is None.

    Raises:
        CatalogError: none qualifies.
    """
    candidates = []
    for r in records.values():
        try:
            whole = all(link.verified for link in chain_of(records, r.id))
        except CatalogError:
            continue
        if whole and (target is None or r.finished <= target):
            candidates.append(r)
    if not candidates:
        when = f" finished before {target.isoformat()}" if target else ""
        raise CatalogError(f"no verified base backup{when} in the catalog (local or S3)")
    return max(candidates, key=lambda r: r.id)


def kept_after_retention(records: dict[str, BackupRecord], cutoff: datetime) -> set[str]:
    """Ids retention keeps: backups started at or after ``cutoff``, the newest full backup and every
    incremental built on it (the newest chain), and every parent a kept backup needs."""
    full = newest_full(records)
    keep = set()
    for r in records.values():
        try:
            chain = chain_of(records, r.id)
        except CatalogError:
            chain = [r]  # a broken chain restores nothing, but retention leaves what is left of it to age out
        if r.started >= cutoff or (full is not None and chain[0].id == full.id):
            keep |= {link.id for link in chain}
    return keep


def wal_position(name: str) -> str | None:
    """The position part of a WAL file name (16 hex digits), or None for a timeline history file or
    anything else; the timeline is ignored, as ``pg_archivecleanup`` ignores it."""
    m = _SEGMENT.match(name)
    return m.group(1) if m else None


def wal_precedes(name: str, first_needed: str) -> bool:
    """Whether archived WAL file ``name`` lies before ``first_needed`` (a segment name), i.e. no backup
    from ``first_needed`` on can need it: the rule ``pg_archivecleanup`` applies, on names."""
    pos, first = wal_position(name), wal_position(first_needed)
    if first is None:
        raise ValueError(f"not a WAL segment name: {first_needed!r}")
    return pos is not None and pos < first


def backup_facts(pgdata: Path) -> tuple[str, str, int, str]:
    """``(start_lsn, stop_lsn, timeline, start_wal)`` of a plain-format base backup, from its
    ``backup_manifest`` (WAL-Ranges) and ``backup_label``.

    Raises:
        ValueError: the manifest or label is missing or unreadable.
    """
    try:
        manifest = json.loads((pgdata / "backup_manifest").read_text())
        label = (pgdata / "backup_label").read_text()
    except (OSError, ValueError) as exc:
        raise ValueError(f"{pgdata} has no readable backup_manifest and backup_label: {exc}") from exc
    ranges = manifest["WAL-Ranges"]
    m = _LABEL_START.search(label)
    if not ranges or not m:
        raise ValueError(f"{pgdata}: no WAL range in backup_manifest or no start in backup_label")
    return ranges[0]["Start-LSN"], ranges[-1]["End-LSN"], int(ranges[-1]["Timeline"]), m.group(2)


def folder_size(path: Path) -> int:
    """Bytes of every file under ``path`` (0 when it does not exist)."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())
