"""Contracts of the RDS backup and point-in-time restore activities (issue 14, the ``aws`` target):
activity names, one input and one result dataclass each. Owned by activities/rds_recovery.py; the
Backup, Restore and restore-drill workflows call them instead of the pg_basebackup activities when
``settings.rds_instance_id`` is set.

Times are ISO 8601 strings in UTC (``2026-12-01T12:47:57.883844+00:00``); durations are seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RDS_SNAPSHOT = "rds_snapshot"
RDS_PRUNE_SNAPSHOTS = "rds_prune_snapshots"
RDS_RESTORE_TO_POINT = "rds_restore_to_point"
RDS_DESCRIBE = "rds_describe"
RDS_DELETE_INSTANCE = "rds_delete_instance"


@dataclass
class RdsSnapshotRequest:
    """Take a manual DB snapshot of the configured instance. ``label`` becomes part of the snapshot's
    identifier and its ``shipway:label`` tag; ``started_by`` its ``shipway:started-by`` tag."""

    label: str = ""
    started_by: str = "schedule"


@dataclass
class RdsSnapshotResult:
    """The snapshot once ``available``. ``latest_restorable_time`` is the instance's, read afterwards:
    the newest point a point-in-time restore can reach (RDS keeps it about five minutes behind)."""

    snapshot_id: str
    instance_id: str
    status: str
    created_at: str | None
    duration_s: float
    latest_restorable_time: str | None


@dataclass
class RdsPruneRequest:
    """Delete the Shipway snapshots (tag ``shipway:backup=1``) of the configured instance older than
    ``retention_days`` days; the newest one is always kept. ``dry_run``: only list them."""

    retention_days: int = 30
    dry_run: bool = False


@dataclass
class RdsPruneResult:
    """Identifiers of the snapshots deleted (or, on a dry run, that would be), oldest first."""

    deleted: list[str] = field(default_factory=list)


@dataclass
class RdsRestoreRequest:
    """Restore the configured instance to a point in time as a NEW instance ``target_instance_id``.

    ``restore_time``: ISO 8601 (a naive time is UTC); None restores to the latest restorable time.
    ``instance_class``: the new instance's class (e.g. ``db.t4g.medium`` for a drill); None = the
    source's."""

    target_instance_id: str
    restore_time: str | None = None
    instance_class: str | None = None


@dataclass
class RdsRestoreResult:
    """The restored instance once ``available``. ``restore_time`` is the requested time, or with
    none requested the source's latest restorable time read just before the restore (RDS restores to
    its latest restorable time at the call, which is this or slightly later)."""

    target_instance_id: str
    source_instance_id: str
    restore_time: str | None
    status: str
    endpoint: str | None
    port: int | None
    duration_s: float


@dataclass
class RdsDescribeRequest:
    """Describe the configured instance and its snapshots (no parameters)."""


@dataclass
class RdsDescription:
    """The configured instance's state and its snapshots, newest first. Each snapshot is
    ``{"snapshot_id": str, "type": "manual" | "automated", "status": str, "created_at": str | None,
    "shipway": bool (tagged shipway:backup=1), "label": str | None}``."""

    instance_id: str
    status: str
    latest_restorable_time: str | None
    backup_retention_period: int
    snapshots: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class RdsDeleteRequest:
    """Delete an instance that Shipway restored (a drill's scratch instance), without a final snapshot."""

    instance_id: str


@dataclass
class RdsDeleteResult:
    """``deleted``: the deletion was started now or is already under way; False: no such instance."""

    deleted: bool
