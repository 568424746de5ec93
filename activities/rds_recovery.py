"""Backups and point-in-time restore of the catalog database on RDS (the ``aws`` target), through
boto3: manual DB snapshots, their retention, restore to a point in time as a new instance, and the
deletion of a restore drill's scratch instance.

RDS itself keeps the instance restorable to any second of its backup retention period (automated
backups plus transaction logs); a Shipway snapshot adds a named, tagged restore point that outlives
that period until Shipway's own retention deletes it. Every call is synchronous boto3 run in a
thread; waits poll the Describe* APIs and heartbeat, bounded by ``wait_timeout_s``.

What Shipway creates carries tags, which is how it recognises its own resources:

- snapshots: ``shipway:backup=1``, ``shipway:label``, ``shipway:started-by``;
- restored instances: ``shipway:restored-from=<source instance>``, ``shipway:restore-time``.

Retries are safe: a snapshot's identifier is derived from the activity's first scheduling (its
workflow, run and activity id and ``scheduled_time``), and a restore finds the instance an earlier
attempt created, so a retried attempt waits for what the first one started instead of starting
another.

AWS API reference:

- CreateDBSnapshot: https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBSnapshot.html
- DescribeDBSnapshots: https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBSnapshots.html
- RestoreDBInstanceToPointInTime: https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RestoreDBInstanceToPointInTime.html
- DeleteDBInstance: https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBInstance.html
- Identifier rules: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html#RDS_Limits.Constraints
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from shipway.settings import Settings
from workflows.rds_types import (
    RDS_DELETE_INSTANCE,
    RDS_DESCRIBE,
    RDS_PRUNE_SNAPSHOTS,
    RDS_RESTORE_TO_POINT,
    RDS_SNAPSHOT,
    RdsDeleteRequest,
    RdsDeleteResult,
    RdsDescribeRequest,
    RdsDescription,
    RdsPruneRequest,
    RdsPruneResult,
    RdsRestoreRequest,
    RdsRestoreResult,
    RdsSnapshotRequest,
    RdsSnapshotResult,
)

BACKUP_TAG = "shipway:backup"
LABEL_TAG = "shipway:label"
STARTED_BY_TAG = "shipway:started-by"
RESTORED_FROM_TAG = "shipway:restored-from"
RESTORE_TIME_TAG = "shipway:restore-time"

SNAPSHOT_ID_MAX = 255
_LABEL_MAX = 100  # keeps "shipway-<63-char instance>-<label>-<stamp>-<hash>" under 255
_TAG_VALUE_MAX = 256
# Errors a retry cannot fix: the activity fails at once instead of retrying for hours.
_PERMANENT = frozenset({
    "DBInstanceNotFound", "DBSnapshotNotFound", "DBInstanceAlreadyExists", "DBSnapshotAlreadyExists",
    "InvalidParameterValue", "InvalidParameterCombination", "InvalidRestoreFault", "PointInTimeRestoreNotEnabled",
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "SnapshotQuotaExceeded",
    "InstanceQuotaExceeded", "StorageQuotaExceeded", "DBSubnetGroupNotFoundFault", "DBParameterGroupNotFound",
    "InvalidSubnet", "InvalidVPCNetworkStateFault", "KMSKeyNotAccessibleFault",
})
# Statuses a wait for "available" cannot come back from ("deleting": a same-named instance on its way out).
_SNAPSHOT_FAILED = frozenset({"failed"})
_INSTANCE_FAILED = frozenset({
    "deleting", "failed", "incompatible-restore", "incompatible-parameters", "incompatible-network",
    "incompatible-option-group", "inaccessible-encryption-credentials",
})


def _beat(detail: str) -> None:
    # the same code runs outside an activity (tests, a CLI)
    if activity.in_activity():
        activity.heartbeat(detail)


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat() if at else None


def _tag(tags: list[dict[str, str]] | None, key: str) -> str | None:
    return next((t["Value"] for t in tags or () if t["Key"] == key), None)


def _tag_value(text: str) -> str:
    # RDS tag values allow letters, digits, spaces and _.:/=+-@ only
    return re.sub(r"[^\w .:/=+\-@]", "-", text)[:_TAG_VALUE_MAX]


def parse_restore_time(text: str) -> datetime:
    """``text`` (ISO 8601) as an aware UTC datetime; a naive time is taken as UTC.

    Raises:
        ApplicationError (non-retryable, ``InvalidRestoreTime``): not ISO 8601.
    """
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise ApplicationError(f"restore_time {text!r} is not an ISO 8601 time", type="InvalidRestoreTime",
                               non_retryable=True) from None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)


def snapshot_identifier(instance_id: str, label: str, at: datetime, key: str) -> str:
    """The DB snapshot identifier Shipway gives a backup of ``instance_id`` taken at ``at``.

    Shape: ``shipway-<instance>[-<label slug>]-<YYYYMMDD-HHMMSS>-<8 hex>``, lowercase (RDS stores
    identifiers lowercase), e.g. ``shipway-shipway-db-nightly-20261201-124757-3fa1c2d9``. The slug is
    the label lowercased with every run of other characters than ``[a-z0-9]`` turned into one hyphen,
    cut to 100 characters; the hex digits are the SHA-256 of ``key``, so two backups started in the
    same second (different keys) get different identifiers and the same key always gets the same one.
    The result obeys RDS's rules: at most 255 letters, digits and hyphens, a letter first, no ``--``,
    no hyphen last.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:_LABEL_MAX].strip("-")
    stamp = at.astimezone(UTC).strftime("%Y%m%d-%H%M%S")
    digest = hashlib.sha256(key.encode()).hexdigest()[:8]
    return "-".join(p for p in ("shipway", instance_id.lower(), slug, stamp, digest) if p)


def is_shipway_snapshot(snapshot: dict[str, Any]) -> bool:
    """Whether a DescribeDBSnapshots entry is a manual snapshot Shipway took (tag ``shipway:backup=1``)."""
    return snapshot.get("SnapshotType") == "manual" and _tag(snapshot.get("TagList"), BACKUP_TAG) == "1"


def expired_snapshots(snapshots: list[dict[str, Any]], cutoff: datetime) -> list[str]:
    """Which of ``snapshots`` (DescribeDBSnapshots entries) Shipway's retention deletes: its own
    (:func:`is_shipway_snapshot`), ``available``, created (``SnapshotCreateTime``) before ``cutoff``,
    except the newest such snapshot, which is always kept so that a short retention never leaves the
    instance without one. Automated snapshots, other manual snapshots and snapshots still being
    created are never selected.

    Returns:
        Snapshot identifiers, oldest first.
    """
    ours = sorted((s for s in snapshots if is_shipway_snapshot(s) and s.get("Status") == "available"
                   and s.get("SnapshotCreateTime") is not None), key=lambda s: s["SnapshotCreateTime"])
    return [s["DBSnapshotIdentifier"] for s in ours[:-1] if s["SnapshotCreateTime"] < cutoff]


class RdsRecoveryActivities:
    """The RDS backup and restore activities of one instance, owning their boto3 ``rds`` client.

    Args:
        rds_client: a boto3 ``rds`` client (credentials from boto3's usual chain).
        instance_id: DBInstanceIdentifier of the database Shipway runs on (``SHIPWAY_RDS_INSTANCE_ID``);
            the one instance these activities never delete.
        poll_s: seconds between Describe* calls while waiting for a snapshot or instance.
        wait_timeout_s: longest one attempt waits for ``available``, seconds; then it fails with
            ``RdsWaitTimeout`` (retryable: the next attempt resumes the wait).
    """

    def __init__(self, rds_client: Any, instance_id: str, *, poll_s: float = 15.0,
                 wait_timeout_s: float = 6 * 3600) -> None:
        self.client, self.instance_id = rds_client, instance_id.lower()
        self.poll_s, self.wait_timeout_s = poll_s, wait_timeout_s

    @classmethod
    def from_settings(cls, settings: Settings) -> RdsRecoveryActivities:
        """For ``settings.rds_instance_id``, with an ``rds`` client for ``settings.aws_region`` and
        ``settings.aws_endpoint_url`` (None: AWS's own endpoint).

        Raises:
            ValueError: ``rds_instance_id`` is not set.
        """
        if not settings.rds_instance_id:
            raise ValueError("RDS backups need the setting rds_instance_id (SHIPWAY_RDS_INSTANCE_ID)")
        import boto3

        client = boto3.client("rds", region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url)
        return cls(client, settings.rds_instance_id)

    # ---------------------------------------------------------------------------------------------
    # activities

    @activity.defn(name=RDS_SNAPSHOT)
    async def snapshot(self, req: RdsSnapshotRequest) -> RdsSnapshotResult:
        """CreateDBSnapshot of the instance, tagged as Shipway's, then wait until it is ``available``
        (heartbeating the status). A retried attempt finds the snapshot the first one created.

        Raises:
            ApplicationError: type = AWS's error code (``DBInstanceNotFound`` names the instance;
                non-retryable when a retry cannot help), ``RdsFailed`` (the snapshot failed),
                ``RdsWaitTimeout`` (not available within ``wait_timeout_s``; retryable).
        """
        started = time.monotonic()
        at, key = self._attempt_key()
        snapshot_id = snapshot_identifier(self.instance_id, req.label, at, key)
        tags = [{"Key": BACKUP_TAG, "Value": "1"}, {"Key": LABEL_TAG, "Value": _tag_value(req.label)},
                {"Key": STARTED_BY_TAG, "Value": _tag_value(req.started_by)}]
        try:
            await self._call("CreateDBSnapshot", f"RDS instance {self.instance_id!r}", self.client.create_db_snapshot,
                             DBInstanceIdentifier=self.instance_id, DBSnapshotIdentifier=snapshot_id, Tags=tags)
        except ApplicationError as e:
            if e.type != "DBSnapshotAlreadyExists":
                raise
            existing = await self._snapshot(snapshot_id)
            if existing["DBInstanceIdentifier"] != self.instance_id or not is_shipway_snapshot(existing):
                raise
        snap = await self._wait(lambda: self._snapshot(snapshot_id), "Status", _SNAPSHOT_FAILED,
                                f"snapshot {snapshot_id!r}")
        instance = await self._instance(self.instance_id)
        return RdsSnapshotResult(snapshot_id=snapshot_id, instance_id=self.instance_id, status=snap["Status"],
                                 created_at=_iso(snap.get("SnapshotCreateTime")),
                                 duration_s=time.monotonic() - started,
                                 latest_restorable_time=_iso(instance.get("LatestRestorableTime")))

    @activity.defn(name=RDS_PRUNE_SNAPSHOTS)
    async def prune_snapshots(self, req: RdsPruneRequest) -> RdsPruneResult:
        """Delete the instance's Shipway snapshots older than ``req.retention_days`` days, keeping the
        newest (:func:`expired_snapshots`); with ``dry_run`` only list them. A snapshot already gone
        counts as deleted. Heartbeats after each deletion.

        Raises:
            ApplicationError: ``InvalidRetention`` (negative days; non-retryable), or AWS's error code.
        """
        if req.retention_days < 0:
            raise ApplicationError(f"retention_days must be >= 0, got {req.retention_days}", type="InvalidRetention",
                                   non_retryable=True)
        snapshots = await self._snapshots(SnapshotType="manual")
        expired = expired_snapshots(snapshots, datetime.now(UTC) - timedelta(days=req.retention_days))
        if not req.dry_run:
            for snapshot_id in expired:
                try:
                    await self._call("DeleteDBSnapshot", f"snapshot {snapshot_id!r}", self.client.delete_db_snapshot,
                                     DBSnapshotIdentifier=snapshot_id)
                except ApplicationError as e:
                    if e.type != "DBSnapshotNotFound":
                        raise
                _beat(f"deleted {snapshot_id}")
        return RdsPruneResult(deleted=expired)

    @activity.defn(name=RDS_RESTORE_TO_POINT)
    async def restore_to_point(self, req: RdsRestoreRequest) -> RdsRestoreResult:
        """RestoreDBInstanceToPointInTime of the instance into the new instance
        ``req.target_instance_id``, then wait until it is ``available`` (heartbeating its status).

        RDS creates a restored instance with the default subnet group, security group and parameter
        group unless told otherwise, so the source's subnet group, VPC security groups, parameter
        group and public accessibility are passed on; Multi-AZ is not (set it on the instance that is
        kept). The new instance is tagged ``shipway:restored-from``; a retried attempt that finds it
        waits for it instead of failing.

        Raises:
            ApplicationError (non-retryable unless noted): ``RefusedTarget`` (the target is the
                source), ``InvalidRestoreTime`` (not ISO 8601, after the source's latest restorable
                time, or before its backup retention period), ``PointInTimeRestoreNotEnabled``
                (backup retention 0), ``TargetExists`` (an instance of that name Shipway did not
                restore from this source), AWS's error code (``DBInstanceNotFound`` names the
                instance), ``RdsFailed``, ``RdsWaitTimeout`` (retryable).
        """
        started, target = time.monotonic(), req.target_instance_id.lower()
        if target == self.instance_id:
            raise ApplicationError(f"refusing to restore over the source instance {self.instance_id!r}: "
                                   "restore into a new instance", type="RefusedTarget", non_retryable=True)
        source = await self._instance(self.instance_id)
        restore_at, latest = self._check_restorable(source, req.restore_time)
        params: dict[str, Any] = {
            "SourceDBInstanceIdentifier": self.instance_id, "TargetDBInstanceIdentifier": target,
            "Tags": [{"Key": RESTORED_FROM_TAG, "Value": self.instance_id},
                     {"Key": RESTORE_TIME_TAG, "Value": _iso(restore_at) or "latest"}],
            **({"RestoreTime": restore_at} if restore_at else {"UseLatestRestorableTime": True}),
            **_placement(source),
        }
        if req.instance_class:
            params["DBInstanceClass"] = req.instance_class
        try:
            await self._call("RestoreDBInstanceToPointInTime", f"RDS instance {self.instance_id!r}",
                             self.client.restore_db_instance_to_point_in_time, **params)
        except ApplicationError as e:
            if e.type != "DBInstanceAlreadyExists":
                raise
            existing = await self._instance(target)
            if _tag(existing.get("TagList"), RESTORED_FROM_TAG) != self.instance_id:
                raise ApplicationError(f"RDS instance {target!r} already exists and was not restored by Shipway from "
                                       f"{self.instance_id!r}: choose another target_instance_id", type="TargetExists",
                                       non_retryable=True) from None
        restored = await self._wait(lambda: self._instance(target), "DBInstanceStatus", _INSTANCE_FAILED,
                                    f"RDS instance {target!r}")
        endpoint = restored.get("Endpoint") or {}
        return RdsRestoreResult(target_instance_id=target, source_instance_id=self.instance_id,
                                restore_time=_iso(restore_at or latest), status=restored["DBInstanceStatus"],
                                endpoint=endpoint.get("Address"), port=endpoint.get("Port"),
                                duration_s=time.monotonic() - started)

    @activity.defn(name=RDS_DESCRIBE)
    async def describe(self, req: RdsDescribeRequest) -> RdsDescription:
        """The instance's status, latest restorable time, backup retention period (days) and its
        manual and automated snapshots, newest first.

        Raises:
            ApplicationError: AWS's error code (``DBInstanceNotFound`` names the instance).
        """
        instance = await self._instance(self.instance_id)
        snapshots = sorted(await self._snapshots(), reverse=True,
                           key=lambda s: s.get("SnapshotCreateTime") or datetime.max.replace(tzinfo=UTC))
        return RdsDescription(
            instance_id=self.instance_id, status=instance["DBInstanceStatus"],
            latest_restorable_time=_iso(instance.get("LatestRestorableTime")),
            backup_retention_period=instance.get("BackupRetentionPeriod", 0),
            snapshots=[{"snapshot_id": s["DBSnapshotIdentifier"], "type": s.get("SnapshotType"), "status": s.get("Status"),
                        "created_at": _iso(s.get("SnapshotCreateTime")), "shipway": is_shipway_snapshot(s),
                        "label": _tag(s.get("TagList"), LABEL_TAG)} for s in snapshots])

    @activity.defn(name=RDS_DELETE_INSTANCE)
    async def delete_instance(self, req: RdsDeleteRequest) -> RdsDeleteResult:
        """DeleteDBInstance of an instance Shipway restored (a drill's scratch instance), with no final
        snapshot and its automated backups; does not wait for the deletion to finish.

        Returns:
            ``deleted`` True when the deletion started now or was already under way, False when no
            such instance exists (a retried attempt after it was gone).

        Raises:
            ApplicationError (non-retryable): ``RefusedToDeleteSource`` (it is the configured
                instance), ``NotRestoredByShipway`` (no ``shipway:restored-from`` tag), or AWS's
                error code.
        """
        target = req.instance_id.lower()
        if target == self.instance_id:
            raise ApplicationError(f"refusing to delete {target!r}: it is the configured database "
                                   "(rds_instance_id), not a restored copy", type="RefusedToDeleteSource",
                                   non_retryable=True)
        try:
            instance = await self._instance(target)
        except ApplicationError as e:
            if e.type == "DBInstanceNotFound":
                return RdsDeleteResult(deleted=False)
            raise
        if _tag(instance.get("TagList"), RESTORED_FROM_TAG) is None:
            raise ApplicationError(f"refusing to delete {target!r}: Shipway did not restore it (no "
                                   f"{RESTORED_FROM_TAG} tag)", type="NotRestoredByShipway", non_retryable=True)
        if instance["DBInstanceStatus"] != "deleting":
            await self._call("DeleteDBInstance", f"RDS instance {target!r}", self.client.delete_db_instance,
                             DBInstanceIdentifier=target, SkipFinalSnapshot=True, DeleteAutomatedBackups=True)
        return RdsDeleteResult(deleted=True)

    # ---------------------------------------------------------------------------------------------
    # helpers

    @staticmethod
    def _attempt_key() -> tuple[datetime, str]:
        """When this activity was first scheduled and a key naming it, the same in every retry of it;
        outside an activity, now and a random key."""
        if activity.in_activity():
            info = activity.info()
            return info.scheduled_time, f"{info.workflow_id}/{info.workflow_run_id}/{info.activity_id}"
        return datetime.now(UTC), uuid.uuid4().hex

    def _check_restorable(self, source: dict[str, Any],
                          restore_time: str | None) -> tuple[datetime | None, datetime | None]:
        """The requested restore time (None: latest) and the source's latest restorable time, after
        the checks RDS would make (moto makes none of them)."""
        latest: datetime | None = source.get("LatestRestorableTime")
        if not source.get("BackupRetentionPeriod"):
            raise ApplicationError(f"RDS instance {self.instance_id!r} has automated backups off (backup retention 0): "
                                   "no point-in-time restore", type="PointInTimeRestoreNotEnabled", non_retryable=True)
        if restore_time is None:
            return None, latest
        at = parse_restore_time(restore_time)
        if latest is not None and at > latest:
            raise ApplicationError(f"restore_time {_iso(at)} is after the latest restorable time {_iso(latest)} of RDS "
                                   f"instance {self.instance_id!r}", type="InvalidRestoreTime", non_retryable=True)
        earliest = datetime.now(UTC) - timedelta(days=source["BackupRetentionPeriod"])
        if at < earliest:
            raise ApplicationError(f"restore_time {_iso(at)} is before the backup retention period "
                                   f"({source['BackupRetentionPeriod']} days) of RDS instance {self.instance_id!r}",
                                   type="InvalidRestoreTime", non_retryable=True)
        return at, latest

    async def _wait(self, fetch: Callable[[], Awaitable[dict[str, Any]]], status_key: str, failed: frozenset[str],
                    what: str) -> dict[str, Any]:
        """Poll ``fetch`` every ``poll_s`` until ``status_key`` is ``available``; heartbeat each status."""
        deadline = time.monotonic() + self.wait_timeout_s
        while True:
            item = await fetch()
            status = item[status_key]
            _beat(f"{what}: {status}")
            if status == "available":
                return item
            if status in failed:
                raise ApplicationError(f"{what} is {status}", type="RdsFailed", non_retryable=True)
            if time.monotonic() >= deadline:
                raise ApplicationError(f"{what} is still {status} after {self.wait_timeout_s:g} s", type="RdsWaitTimeout")
            await asyncio.sleep(self.poll_s)

    async def _instance(self, instance_id: str) -> dict[str, Any]:
        out = await self._call("DescribeDBInstances", f"RDS instance {instance_id!r}", self.client.describe_db_instances,
                               DBInstanceIdentifier=instance_id)
        return out["DBInstances"][0]

    async def _snapshot(self, snapshot_id: str) -> dict[str, Any]:
        out = await self._call("DescribeDBSnapshots", f"snapshot {snapshot_id!r}", self.client.describe_db_snapshots,
                               DBSnapshotIdentifier=snapshot_id)  # an unknown id is a DBSnapshotNotFound error
        return out["DBSnapshots"][0]

    async def _snapshots(self, **filters: str) -> list[dict[str, Any]]:
        """Every snapshot of the instance (all pages), optionally of one SnapshotType."""
        def pages() -> list[dict[str, Any]]:
            paginator = self.client.get_paginator("describe_db_snapshots")
            return [s for page in paginator.paginate(DBInstanceIdentifier=self.instance_id, **filters)
                    for s in page["DBSnapshots"]]

        return await self._call("DescribeDBSnapshots", f"RDS instance {self.instance_id!r}", pages)

    async def _call(self, operation: str, resource: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        """``fn(**kwargs)`` in a thread; an AWS error becomes an ApplicationError whose type is AWS's
        error code and whose message names ``resource``, the operation and the region."""
        try:
            return await asyncio.to_thread(fn, **kwargs)
        except ClientError as e:
            error = e.response.get("Error", {})
            code, message, region = error.get("Code", "Unknown"), error.get("Message", ""), self.client.meta.region_name
            raise ApplicationError(f"{operation} on {resource} failed (region {region}): {code}: {message}",
                                   type=code, non_retryable=code in _PERMANENT) from None


def _placement(source: dict[str, Any]) -> dict[str, Any]:
    """RestoreDBInstanceToPointInTime parameters that put the new instance where ``source`` is
    (DescribeDBInstances entry): subnet group, VPC security groups, parameter group, public access."""
    params: dict[str, Any] = {"PubliclyAccessible": bool(source.get("PubliclyAccessible"))}
    if subnet_group := (source.get("DBSubnetGroup") or {}).get("DBSubnetGroupName"):
        params["DBSubnetGroupName"] = subnet_group
    groups = [g["VpcSecurityGroupId"] for g in source.get("VpcSecurityGroups", ()) if g.get("Status") != "inactive"]
    if groups:
        params["VpcSecurityGroupIds"] = groups
    if parameter_groups := source.get("DBParameterGroups"):
        params["DBParameterGroupName"] = parameter_groups[0]["DBParameterGroupName"]
    return params
