"""RDS backups and point-in-time restore (:mod:`activities.rds_recovery`) with boto3 against moto in
server mode (a real HTTP RDS/EC2 endpoint on loopback), run in Temporal's activity environment so
heartbeats and the activity's own retry key are real.

Moto models the calls and their stored results: snapshots with tags and ``SnapshotCreateTime``,
automated snapshots of an instance with backup retention, RestoreDBInstanceToPointInTime creating a
new instance from the source's attributes, DeleteDBInstance, identifier and duplicate-name errors.
It does not model: waiting (snapshots and instances are ``available`` at once; real RDS takes
minutes to hours), the data itself (a restore copies attributes, not contents of a point in time),
the restore window (any RestoreTime is accepted; ``LatestRestorableTime`` is simply "now", where RDS
lags about five minutes), the default subnet and security groups RDS gives a restored instance
(moto copies the source's: the tests check the request carries them instead), and the ``deleting``
state (an instance disappears at once).
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.rds_recovery import (
    BACKUP_TAG,
    RESTORED_FROM_TAG,
    RdsRecoveryActivities,
    expired_snapshots,
    snapshot_identifier,
)
from shipway.settings import Settings
from tests.support.moto_rds import INSTANCE_ID, REGION, moto_rds
from workflows.rds_types import (
    RdsDeleteRequest,
    RdsDescribeRequest,
    RdsDescription,
    RdsPruneRequest,
    RdsRestoreRequest,
    RdsSnapshotRequest,
)


@pytest.fixture(scope="module")
def aws():
    """The moto stand-in (:class:`tests.support.moto_rds.MotoRds`) for the whole module."""
    with moto_rds() as stand_in:
        yield stand_in


class Env:
    """An activity environment with a fresh workflow/activity identity and the heartbeats it saw."""

    def __init__(self, attempt: int = 1, key: str | None = None) -> None:
        self.beats: list[str] = []
        self.env = ActivityEnvironment()
        key = key or uuid.uuid4().hex
        self.env.info = dataclasses.replace(ActivityEnvironment.default_info(), workflow_id=f"backup:{key}",
                                            activity_id="1", attempt=attempt, scheduled_time=datetime.now(UTC))
        self.env.on_heartbeat = lambda *details: self.beats.append(details[0])

    def retry(self) -> Env:
        """The same activity's next attempt (same identity and first scheduled time)."""
        again = Env()
        again.env.info = dataclasses.replace(self.env.info, attempt=self.env.info.attempt + 1,
                                             current_attempt_scheduled_time=datetime.now(UTC))
        return again

    async def run(self, fn, arg):
        return await self.env.run(fn, arg)


def activities(aws, instance_id: str | None = None, **kw) -> RdsRecoveryActivities:
    return RdsRecoveryActivities(aws.client(), instance_id or aws.instance_id, poll_s=0.01, **kw)


def manual_snapshots(aws, instance_id: str) -> dict[str, dict]:
    described = aws.client().describe_db_snapshots(DBInstanceIdentifier=instance_id, SnapshotType="manual")
    return {s["DBSnapshotIdentifier"]: s for s in described["DBSnapshots"]}


def tags(entry: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in entry.get("TagList", [])}


async def test_snapshot_is_created_tagged_listed_and_a_retry_reuses_it(aws):
    acts, env = activities(aws), Env()
    result = await env.run(acts.snapshot, RdsSnapshotRequest(label="Pre-upgrade 2.1!", started_by="alice@bank.example"))

    assert result.status == "available" and result.instance_id == aws.instance_id
    assert result.snapshot_id.startswith("shipway-shipway-db-pre-upgrade-2-1-")
    described = manual_snapshots(aws, aws.instance_id)[result.snapshot_id]
    assert described["SnapshotType"] == "manual"
    assert tags(described) == {BACKUP_TAG: "1", "shipway:label": "Pre-upgrade 2.1-",
                               "shipway:started-by": "alice@bank.example"}
    assert result.created_at == described["SnapshotCreateTime"].astimezone(UTC).isoformat()
    assert datetime.fromisoformat(result.latest_restorable_time) >= datetime.fromisoformat(result.created_at)
    assert f"snapshot {result.snapshot_id!r}: available" in env.beats

    # the activity's next attempt (e.g. after a worker crash) finds the same snapshot, creates none
    again = await env.retry().run(acts.snapshot, RdsSnapshotRequest(label="Pre-upgrade 2.1!"))
    assert again.snapshot_id == result.snapshot_id
    assert [s for s in manual_snapshots(aws, aws.instance_id) if s.startswith("shipway-shipway-db-pre-upgrade")] == \
        [result.snapshot_id]

    description = await Env().run(acts.describe, RdsDescribeRequest())
    assert (description.instance_id, description.status, description.backup_retention_period) == \
        (aws.instance_id, "available", 7)
    listed = {s["snapshot_id"]: s for s in description.snapshots}
    assert listed[result.snapshot_id] == {"snapshot_id": result.snapshot_id, "type": "manual", "status": "available",
                                          "created_at": result.created_at, "shipway": True, "label": "Pre-upgrade 2.1-"}
    automated = [s for s in description.snapshots if s["type"] == "automated"]
    assert automated and not any(s["shipway"] for s in automated)  # backup retention 7 gives an automated one
    created = [s["created_at"] for s in description.snapshots]
    assert created == sorted(created, reverse=True)
    # the description crosses Temporal's payload converter intact
    converter = DataConverter.default
    decoded = await converter.decode(await converter.encode([description]), [RdsDescription])
    assert decoded == [description]


def test_snapshot_identifier_obeys_rds_rules_and_is_stable_per_key():
    at = datetime(2026, 12, 1, 12, 47, 57, tzinfo=UTC)
    name = snapshot_identifier("Shipway-DB", "--Nightly -- run / ünïcode--" + "x" * 300, at, "wf/run/1")
    assert len(name) <= 255
    assert re.fullmatch(r"[a-z][a-z0-9-]*[a-z0-9]", name) and "--" not in name
    assert name.startswith("shipway-shipway-db-nightly-run-n-code-xxx") and "-20261201-124757-" in name
    assert snapshot_identifier("Shipway-DB", "--Nightly -- run / ünïcode--" + "x" * 300, at, "wf/run/1") == name
    assert snapshot_identifier("shipway-db", "", at, "wf/run/1") == \
        "shipway-shipway-db-20261201-124757-" + name.rsplit("-", 1)[1]
    assert snapshot_identifier("shipway-db", "", at, "wf/run/2") != snapshot_identifier("shipway-db", "", at, "wf/run/1")


async def test_prune_deletes_only_old_shipway_snapshots_and_keeps_the_newest(aws):
    instance = "prune-db"
    aws.create_postgres(instance)
    acts = activities(aws, instance)
    ours = [(await Env().run(acts.snapshot, RdsSnapshotRequest(label=f"n{i}"))).snapshot_id for i in range(3)]
    aws.client().create_db_snapshot(DBInstanceIdentifier=instance, DBSnapshotIdentifier="operator-manual")
    elsewhere = set(manual_snapshots(aws, aws.instance_id))  # another instance's Shipway snapshots

    assert (await Env().run(acts.prune_snapshots, RdsPruneRequest(retention_days=30))).deleted == []

    # retention 0: every snapshot of ours is past it, yet the newest stays
    oldest_first = sorted(ours, key=lambda s: manual_snapshots(aws, instance)[s]["SnapshotCreateTime"])
    dry = await Env().run(acts.prune_snapshots, RdsPruneRequest(retention_days=0, dry_run=True))
    assert dry.deleted == oldest_first[:2]
    assert set(ours) <= set(manual_snapshots(aws, instance))

    env = Env()
    pruned = await env.run(acts.prune_snapshots, RdsPruneRequest(retention_days=0))
    assert pruned.deleted == oldest_first[:2]
    assert set(manual_snapshots(aws, instance)) == {oldest_first[2], "operator-manual"}
    assert env.beats == [f"deleted {s}" for s in oldest_first[:2]]
    automated = aws.client().describe_db_snapshots(DBInstanceIdentifier=instance, SnapshotType="automated")
    assert automated["DBSnapshots"]
    assert set(manual_snapshots(aws, aws.instance_id)) == elsewhere

    with pytest.raises(ApplicationError) as refused:
        await Env().run(acts.prune_snapshots, RdsPruneRequest(retention_days=-1))
    assert refused.value.type == "InvalidRetention" and refused.value.non_retryable


async def test_expired_snapshots_on_real_describe_output(aws):
    """The selection alone, on what DescribeDBSnapshots returns, with cutoffs on both sides of now:
    moto cannot age a snapshot, so a cutoff in the future stands in for an old snapshot."""
    acts = activities(aws)
    for label in ("sel-a", "sel-b"):
        await Env().run(acts.snapshot, RdsSnapshotRequest(label=label))
    aws.client().create_db_snapshot(DBInstanceIdentifier=aws.instance_id, DBSnapshotIdentifier="operator-keep")
    described = aws.client().describe_db_snapshots(DBInstanceIdentifier=aws.instance_id)["DBSnapshots"]
    ours = sorted((s for s in described if tags(s).get(BACKUP_TAG) == "1"), key=lambda s: s["SnapshotCreateTime"])
    assert len(ours) >= 2 and any(s["SnapshotType"] == "automated" for s in described)

    now = datetime.now(UTC)
    assert expired_snapshots(described, now + timedelta(days=1)) == [s["DBSnapshotIdentifier"] for s in ours[:-1]]
    assert expired_snapshots(described, ours[0]["SnapshotCreateTime"]) == []  # created at the cutoff: not before it
    assert expired_snapshots(described, now - timedelta(days=1)) == []
    creating = [dict(s, Status="creating") if s is ours[0] else s for s in described]
    assert ours[0]["DBSnapshotIdentifier"] not in expired_snapshots(creating, now + timedelta(days=1))


async def test_restore_to_point_creates_the_target_like_the_source_and_delete_removes_it(aws):
    acts, rds = activities(aws), aws.client()
    sent: list[dict] = []
    acts.client.meta.events.register("provide-client-params.rds.RestoreDBInstanceToPointInTime",
                                     lambda params, **_: sent.append(dict(params)))
    source = rds.describe_db_instances(DBInstanceIdentifier=aws.instance_id)["DBInstances"][0]

    env = Env()
    latest = await env.run(acts.restore_to_point, RdsRestoreRequest("drill-latest", instance_class="db.t4g.small"))
    target = rds.describe_db_instances(DBInstanceIdentifier="drill-latest")["DBInstances"][0]
    assert (target["Engine"], target["EngineVersion"]) == (source["Engine"], source["EngineVersion"]) == ("postgres", "16.3")
    assert target["DBInstanceClass"] == "db.t4g.small"
    assert tags(target) == {RESTORED_FROM_TAG: aws.instance_id, "shipway:restore-time": "latest"}
    assert (latest.target_instance_id, latest.source_instance_id, latest.status) == \
        ("drill-latest", aws.instance_id, "available")
    assert (latest.endpoint, latest.port) == (target["Endpoint"]["Address"], target["Endpoint"]["Port"])
    assert latest.restore_time is not None
    assert "RDS instance 'drill-latest': available" in env.beats
    # RDS would place it in the default subnet and security groups: the request names the source's
    assert sent[-1]["UseLatestRestorableTime"] is True and "RestoreTime" not in sent[-1]
    assert sent[-1]["DBSubnetGroupName"] == aws.subnet_group
    assert sent[-1]["VpcSecurityGroupIds"] == [aws.security_group]
    assert sent[-1]["DBParameterGroupName"] == source["DBParameterGroups"][0]["DBParameterGroupName"]

    # a retried attempt finds the instance the first one created
    assert (await env.retry().run(acts.restore_to_point, RdsRestoreRequest("drill-latest"))).status == "available"

    point = source["LatestRestorableTime"].astimezone(UTC) - timedelta(seconds=1)
    at_point = await Env().run(acts.restore_to_point, RdsRestoreRequest("drill-point", restore_time=point.isoformat()))
    assert at_point.restore_time == point.isoformat()
    assert sent[-1]["RestoreTime"] == point and "UseLatestRestorableTime" not in sent[-1]
    assert tags(rds.describe_db_instances(DBInstanceIdentifier="drill-point")["DBInstances"][0])[
        "shipway:restore-time"] == point.isoformat()

    for name in ("drill-latest", "drill-point"):
        assert (await Env().run(acts.delete_instance, RdsDeleteRequest(name))).deleted is True
        with pytest.raises(Exception, match="DBInstanceNotFound"):
            rds.describe_db_instances(DBInstanceIdentifier=name)
    assert (await Env().run(acts.delete_instance, RdsDeleteRequest("drill-latest"))).deleted is False


async def test_restore_refuses_bad_times_targets_and_disabled_backups(aws):
    acts = activities(aws)
    latest = aws.client().describe_db_instances(DBInstanceIdentifier=aws.instance_id)["DBInstances"][0][
        "LatestRestorableTime"].astimezone(UTC)
    aws.create_postgres("someone-elses-db")
    cases = [
        (RdsRestoreRequest("drill-x", restore_time=(latest + timedelta(hours=1)).isoformat()), "InvalidRestoreTime",
         "after the latest restorable time"),
        (RdsRestoreRequest("drill-x", restore_time=(latest - timedelta(days=8)).isoformat()), "InvalidRestoreTime",
         "before the backup retention period (7 days)"),
        (RdsRestoreRequest("drill-x", restore_time="yesterday"), "InvalidRestoreTime", "not an ISO 8601 time"),
        (RdsRestoreRequest("SHIPWAY-DB"), "RefusedTarget", "over the source instance 'shipway-db'"),
        (RdsRestoreRequest("someone-elses-db"), "TargetExists", "'someone-elses-db' already exists"),
    ]
    for request, kind, text in cases:
        with pytest.raises(ApplicationError) as refused:
            await Env().run(acts.restore_to_point, request)
        assert (refused.value.type, refused.value.non_retryable) == (kind, True)
        assert text in str(refused.value)
    with pytest.raises(Exception, match="DBInstanceNotFound"):
        aws.client().describe_db_instances(DBInstanceIdentifier="drill-x")

    aws.create_postgres("no-backups-db", backup_retention_days=0)
    with pytest.raises(ApplicationError) as refused:
        await Env().run(activities(aws, "no-backups-db").restore_to_point, RdsRestoreRequest("drill-y"))
    assert refused.value.type == "PointInTimeRestoreNotEnabled" and "'no-backups-db'" in str(refused.value)


async def test_delete_refuses_the_source_and_instances_shipway_did_not_restore(aws):
    acts = activities(aws)
    aws.create_postgres("not-restored-db")
    for name, kind in (("shipway-db", "RefusedToDeleteSource"), ("Shipway-DB", "RefusedToDeleteSource"),
                       ("not-restored-db", "NotRestoredByShipway")):
        with pytest.raises(ApplicationError) as refused:
            await Env().run(acts.delete_instance, RdsDeleteRequest(name))
        assert (refused.value.type, refused.value.non_retryable) == (kind, True)
        assert name.lower() in str(refused.value)
    for name in ("shipway-db", "not-restored-db"):
        described = aws.client().describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
        assert described["DBInstanceStatus"] == "available"


async def test_an_unknown_instance_is_named_in_the_error(aws):
    acts = activities(aws, "no-such-db")
    for fn, request in ((acts.snapshot, RdsSnapshotRequest()), (acts.describe, RdsDescribeRequest()),
                        (acts.restore_to_point, RdsRestoreRequest("drill-z"))):
        with pytest.raises(ApplicationError) as missing:
            await Env().run(fn, request)
        assert (missing.value.type, missing.value.non_retryable) == ("DBInstanceNotFound", True)
        assert "RDS instance 'no-such-db'" in str(missing.value) and f"region {REGION}" in str(missing.value)


async def test_waiting_is_bounded_heartbeats_and_a_retry_resumes(aws):
    """A restored instance that is not available (stopped here: moto has no slow states) makes the
    wait time out, retryably; once it is available the next attempt returns it."""
    acts, rds = activities(aws, wait_timeout_s=1.0), aws.client()
    env = Env()
    await env.run(acts.restore_to_point, RdsRestoreRequest("drill-slow"))
    rds.stop_db_instance(DBInstanceIdentifier="drill-slow")

    attempt = env.retry()
    with pytest.raises(ApplicationError) as timed_out:
        await attempt.run(acts.restore_to_point, RdsRestoreRequest("drill-slow"))
    assert timed_out.value.type == "RdsWaitTimeout" and not timed_out.value.non_retryable
    assert "'drill-slow' is still stopped" in str(timed_out.value)
    assert len(attempt.beats) >= 2 and set(attempt.beats) == {"RDS instance 'drill-slow': stopped"}

    rds.start_db_instance(DBInstanceIdentifier="drill-slow")
    assert (await attempt.retry().run(acts.restore_to_point, RdsRestoreRequest("drill-slow"))).status == "available"
    assert (await Env().run(acts.delete_instance, RdsDeleteRequest("drill-slow"))).deleted is True


async def test_from_settings_uses_the_aws_settings(aws, monkeypatch):
    # boto3's credential chain, not Shipway's settings, supplies credentials
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    acts = RdsRecoveryActivities.from_settings(Settings(rds_instance_id="Shipway-DB", aws_region=REGION,
                                                        aws_endpoint_url=aws.kw["endpoint_url"]))
    assert acts.instance_id == "shipway-db" and acts.client.meta.region_name == REGION
    assert (await acts.describe(RdsDescribeRequest())).instance_id == "shipway-db"  # outside an activity, too
    with pytest.raises(ValueError, match="rds_instance_id"):
        RdsRecoveryActivities.from_settings(Settings(rds_instance_id=None))


# -- the Backup and Restore runbooks on the rds target, with Shipway's real workers -------------------
@pytest.fixture
def rds_target(aws, settings_env, monkeypatch):
    """Workers built after this fixture back up through RDS (the moto instance)."""
    from shipway.settings import get_settings

    for key, value in {"SHIPWAY_RDS_INSTANCE_ID": INSTANCE_ID, "SHIPWAY_AWS_REGION": REGION,
                       "SHIPWAY_AWS_ENDPOINT_URL": aws.kw["endpoint_url"], "AWS_ACCESS_KEY_ID": "test",
                       "AWS_SECRET_ACCESS_KEY": "test"}.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()


async def test_the_backup_restore_and_drill_runbooks_take_an_rds_snapshot_and_restore_to_new_instances(rds_target, worker, aws):
    import uuid

    from shipway.settings import CONTROL_TASK_QUEUE
    from workflows.runbook_types import RUNBOOK_WORKFLOWS, RunbookInput, RunbookState
    from workflows.statuses import Runbook, RunbookStatus

    async def run(runbook: Runbook, **params) -> RunbookState:
        return await worker.execute_workflow(
            RUNBOOK_WORKFLOWS[runbook], RunbookInput(params={"target": "rds", **params}, started_by="dba@bank.example"),
            id=f"runbook:{runbook}:{uuid.uuid4().hex[:8]}", task_queue=CONTROL_TASK_QUEUE, result_type=RunbookState)

    before = set(manual_snapshots(aws, INSTANCE_ID))
    backup = await run(Runbook.BACKUP, label="before the change")
    assert backup.status == RunbookStatus.COMPLETED, backup
    snapshot = backup.steps[0].findings["snapshot_id"]
    assert set(manual_snapshots(aws, INSTANCE_ID)) - before == {snapshot} and snapshot in backup.summary
    target = f"shipway-restore-{uuid.uuid4().hex[:6]}"
    restore = await run(Runbook.RESTORE, target_instance_id=target)
    assert restore.status == RunbookStatus.COMPLETED, restore
    created = aws.client().describe_db_instances(DBInstanceIdentifier=target)["DBInstances"][0]
    assert created["Engine"] == "postgres" and "point DATABASE_URL at it" in restore.summary
    aws.client().delete_db_instance(DBInstanceIdentifier=target, SkipFinalSnapshot=True)
    drill = await run(Runbook.RESTORE_DRILL)
    assert drill.status == RunbookStatus.COMPLETED and drill.report["rto_s"] is not None, drill
    scratch = drill.steps[0].findings["target_instance_id"]
    assert not [i for i in aws.client().describe_db_instances()["DBInstances"] if i["DBInstanceIdentifier"] == scratch]
