"""Contracts of the backup, restore and restore-drill activities (issue 14): activity names, one input
and one result dataclass each. Owned by activities/backups.py and activities/restores.py.

Times are ISO 8601 UTC strings, sizes bytes, durations seconds; LSNs are PostgreSQL's ``X/Y`` text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

# -- activity names (activities/backups.py: BackupActivities) ------------------------------------
TAKE_BASE_BACKUP = "take_base_backup"  # shipway-control
SHIP_WAL = "ship_wal"  # shipway-control
PRUNE_BACKUPS = "prune_backups"  # shipway-control
# -- activity names (activities/restores.py: RestoreActivities) ----------------------------------
RESTORE_TO_POINT = "restore_to_point"  # shipway-control
STOP_INSTANCE = "stop_instance"  # shipway-control
SWITCH_DATABASE = "switch_database"  # shipway-control
SOURCE_POSITION = "source_position"  # shipway-control
VERIFY_RESTORED = "verify_restored"  # shipway-control


class BackupKind(StrEnum):
    """What base backup to take: ``full``; ``incremental`` (PostgreSQL 18, on the newest full backup);
    ``auto`` (incremental unless no full backup exists or the newest is older than
    ``SHIPWAY_BACKUP_FULL_EVERY_DAYS``). Stored backups are ``full`` or ``incremental``."""

    AUTO = "auto"
    FULL = "full"
    INCREMENTAL = "incremental"


@dataclass
class BaseBackupRequest:
    """Input of :data:`TAKE_BASE_BACKUP`: ``kind`` a :class:`BackupKind` value; ``label`` free text
    stored with the backup; ``started_by`` who or what asked (``schedule``, an operator)."""

    kind: str = BackupKind.AUTO
    label: str = ""
    started_by: str = "schedule"


@dataclass
class BaseBackupResult:
    """A base backup taken: ``backup_id`` (sortable UTC stamp and kind), ``kind`` full | incremental,
    ``parent_id`` (the full backup an incremental builds on), ``path`` (its folder on this machine),
    ``s3_url`` (where it was shipped; None = local only), the WAL range it needs, when it ran,
    ``size_bytes`` of its files, ``verified`` (``pg_verifybackup`` passed; ``verify_detail`` says what
    was checked or what failed), and whether the Temporal dev server's SQLite file was copied alongside."""

    backup_id: str
    kind: str
    parent_id: str | None
    path: str
    s3_url: str | None
    start_lsn: str
    stop_lsn: str
    started_at: str
    finished_at: str
    size_bytes: int
    duration_s: float
    verified: bool
    verify_detail: str
    temporal_db_copied: bool


@dataclass
class ShipWalRequest:
    """Input of :data:`SHIP_WAL` (nothing to choose: every archived WAL file not yet in S3 goes)."""


@dataclass
class ShipWalResult:
    """Archived WAL files copied to S3 now and their bytes (0, 0 without ``SHIPWAY_BACKUP_S3_URL``)."""

    shipped: int
    bytes: int


@dataclass
class PruneBackupsRequest:
    """Input of :data:`PRUNE_BACKUPS`: ``retention_days`` (None = ``SHIPWAY_BACKUP_RETENTION_DAYS``);
    ``dry_run`` reports what would go and deletes nothing."""

    retention_days: int | None = None
    dry_run: bool = False


@dataclass
class PruneBackupsResult:
    """Backups deleted (ids; locally and in S3), archived WAL files deleted, bytes freed on this machine."""

    deleted: list[str] = field(default_factory=list)
    wal_files_deleted: int = 0
    bytes_freed: int = 0


@dataclass
class RestoreRequest:
    """Input of :data:`RESTORE_TO_POINT`: ``target_dir`` the new data directory, absolute or relative to
    the backup directory (must not exist or be empty); ``recovery_target_time`` ISO 8601 (None = the
    end of the archived WAL); ``backup_id`` the base backup to start from (None = the newest verified
    one finished before the target)."""

    target_dir: str
    recovery_target_time: str | None = None
    backup_id: str | None = None


@dataclass
class RestoreResult:
    """A restored instance, left running on a free port: its data directory (absolute), the backups combined
    (full first), the target it recovered to, ``url``/``port``/``pid`` of its server,
    ``last_replayed_at`` (the commit time of the last transaction it replayed; None when none was
    replayed), how long the restore took, and when the chosen backup finished (the restore holds
    every transaction committed before it)."""

    target_dir: str
    backup_chain: list[str]
    recovery_target_time: str | None
    url: str
    port: int
    pid: int
    last_replayed_at: str | None
    duration_s: float
    backup_finished_at: str | None = None


@dataclass
class StopInstanceRequest:
    """Input of :data:`STOP_INSTANCE`: the data directory of a restored instance (absolute or relative to
    the backup directory); ``remove`` deletes it."""

    data_dir: str
    remove: bool = False


@dataclass
class StopInstanceResult:
    """Whether a running server was stopped, and whether its directory was removed."""

    stopped: bool
    removed: bool


@dataclass
class SwitchDatabaseRequest:
    """Input of :data:`SWITCH_DATABASE`: the data directory :data:`RESTORE_TO_POINT` produced (absolute or
    relative to the backup directory)."""

    restored_dir: str


@dataclass
class SwitchDatabaseResult:
    """The stack's server runs on the restored data: where the previous data directory went (None: it
    was gone), the stack's ``port`` and ``url``, how long the switch took."""

    previous_dir_moved_to: str | None
    port: int
    url: str
    duration_s: float


@dataclass
class SourcePositionRequest:
    """Input of :data:`SOURCE_POSITION` (the live catalog database)."""


@dataclass
class SourcePosition:
    """The live database's last committed transaction time (None: none since commit timestamps were
    turned on), its current WAL ``lsn``, and ``at`` (when this was read): the RPO reference."""

    last_commit_at: str | None
    lsn: str
    at: str


@dataclass
class VerifyRestoreRequest:
    """Input of :data:`VERIFY_RESTORED`: the restored instance's ``url``; ``source_url`` the database
    it came from (None: gone, row counts are only read on the restore); ``recovery_point`` ISO 8601
    (rows with a timestamp up to it are compared; None = all rows); ``run_agent`` one real graph run."""

    url: str
    source_url: str | None = None
    recovery_point: str | None = None
    run_agent: bool = True
    compare_with_live: bool = False  # source = the configured catalog database (no URL in workflow history)


@dataclass
class RestoreVerification:
    """What the restored database passed: ``row_counts`` table -> [source at the recovery point (-1:
    no source), restored]; the audit chain (``audit_ok``, events walked); a LangGraph checkpoint
    read back (False also when there is none); ``agent_run`` what one graph run did (``ok: ...``,
    ``failed: ...`` or why none ran); ``problems`` each failed check; ``ok`` none failed."""

    ok: bool
    row_counts: dict[str, list[int]]
    audit_ok: bool
    audit_events: int
    checkpoint_read: bool
    agent_run: str
    problems: list[str] = field(default_factory=list)
