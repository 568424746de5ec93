"""Disaster recovery of the embedded PostgreSQL on this machine: RTO and RPO with 10,000 runs.

Self-contained (no ``shipway up``, offline): in a temp dir, starts PostgreSQL the way ``shipway up``
does (``LocalStack``: WAL archiving into the backup directory with the default ``archive_timeout``
of ``SHIPWAY_WAL_ARCHIVE_TIMEOUT_S``, migrated), then:

1. seeds ``--runs`` runs with their audit events (a valid hash chain) and LLM usage rows through
   ``executemany``, one agent and version, and ``--threads`` LangGraph threads checkpointed by a real
   graph through the encrypted checkpointer;
2. takes a full base backup (``take_base_backup``: pg_basebackup, pg_verifybackup), then with
   ``--bulk-mib`` writes that much WAL more (runs inserted in batches of 1,000), as a day of traffic
   since the last base backup would, so the first restore replays it;
3. writes a trickle: a run and its audit event, one transaction every ~100 ms, as a gateway under
   light load would, for ``--trickle-s`` seconds plus a random share (seeded) of ``archive_timeout``,
   so the disaster falls anywhere in the archiving cycle;
4. the disaster: stops writing, reads the source's last commit (``source_position``,
   ``pg_last_committed_xact``) and row counts, SIGKILLs the postmaster and deletes the data directory;
5. the recovery, timed: ``restore_to_point`` (to the end of the archived WAL) into a new data
   directory, then ``verify_restored`` (row counts, audit chain, a checkpoint read back; no agent run:
   the bench has no agent artifact, and the source is gone, so counts are the restore's own); then
   ``switch_database`` puts the restore in the stack's place (timed apart), and the next round starts
   from it.

RTO = start of the restore -> verified. RPO = the source's last commit - the restore's last replayed
commit (``pg_last_xact_replay_timestamp``). Lost work is also counted in rows (runs and audit
events at the disaster minus restored). The WAL of the last unarchived segment is what is lost, so
the RPO is at most ``archive_timeout`` plus the time to archive one segment; where the disaster
falls in that window decides the figure, hence ``--rounds``. Targets: RTO <= 5 min, RPO <= 1 min.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypedDict

import psycopg
from langgraph.graph import END, START, StateGraph

from activities.audit_log import GENESIS_HASH, event_hash
from activities.backups import BackupActivities
from activities.restores import RestoreActivities
from shipway.checkpoint_crypto import EncryptedAsyncPostgresSaver, encrypted_serde
from shipway.db.engine import Database
from shipway.settings import Settings
from shipway.stack.local import LocalStack
from shipway.stack.ports import free_port
from workflows.backup_types import (
    BaseBackupRequest,
    RestoreRequest,
    SourcePositionRequest,
    SwitchDatabaseRequest,
    VerifyRestoreRequest,
)

AGENT = "credit-underwriting"
TRICKLE_EVERY_S = 0.1
RTO_TARGET_S, RPO_TARGET_S = 300.0, 60.0


@dataclass
class Round:
    """One disaster and recovery: seconds (RTO = restore + verify; the switch back onto the stack's
port is reported apart), and rows lost."""

    rto_s: float
    restore_s: float
    verify_s: float
    switch_s: float
    rpo_s: float
    runs_lost: int
    audit_lost: int
    trickle_commits: int
    ok: bool
    problems: list[str]


def _audit_rows(n: int, start: datetime, prev: str) -> tuple[list[tuple], str]:
    """``n`` audit events one ms apart from ``start``, chained from ``prev``; the rows and the last hash."""
    rows = []
    for i in range(n):
        ts = start + timedelta(milliseconds=i)
        detail = {"run_id": f"seed-{i}", "tenant": "default"}
        h = event_hash(prev, ts.isoformat(), "gateway", "run.started", f"run:seed-{i}", detail)
        rows.append((ts, "gateway", "run.started", f"run:seed-{i}", json.dumps(detail), prev, h))
        prev = h
    return rows, prev


def seed(url: str, runs: int) -> None:
    """Insert one agent and version, ``runs`` finished runs (realistic sizes), an LLM call each and a
    chained audit event each."""
    rnd = random.Random(14)
    start = datetime.now(UTC) - timedelta(days=7)
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO agents (name, owner, template, description, live_version, created_at, status) VALUES "
                     "(%s, 'olivia.owner@bank.example', 'credit_underwriting', 'Credit decisions', 1, now(), 'live')", (AGENT,))
        conn.execute("INSERT INTO agent_versions (agent_name, version, spec, status, status_detail, submitted_by, workflow_id, "
                     "created_at, updated_at) VALUES (%s, 1, '{}', 'live', '', 'olivia.owner@bank.example', %s, now(), now())",
                     (AGENT, f"agent:{AGENT}:v1"))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO runs (id, agent_name, version, thread_id, tenant, started_by, status, input, output, workflow_id, "
                "artifact_sha256, started_at, finished_at, latency_ms, wait_ms, tokens_in, tokens_out, cost_usd) VALUES "
                "(%s, %s, 1, %s, 'default', 'key-1', 'succeeded', %s, %s, %s, %s, %s, %s, %s, 0, %s, %s, %s)",
                [(f"seed-{i}", AGENT, f"thread-{i}", json.dumps({"applicant_id": f"A{i:06d}", "amount": rnd.randint(1, 50) * 1000,
                                                                 "term_months": rnd.choice((12, 24, 36, 60))}),
                  json.dumps({"decision": rnd.choice(("approve", "decline", "refer")), "reasons": ["DTI_HIGH"],
                              "narrative": "x" * rnd.randint(200, 800)}),
                  f"run:seed-{i}", "0" * 64, start + timedelta(seconds=i * 30), start + timedelta(seconds=i * 30 + 1),
                  rnd.uniform(80, 900), rnd.randint(500, 2000), rnd.randint(100, 600), rnd.uniform(0.0005, 0.01))
                 for i in range(runs)])
            cur.executemany("INSERT INTO llm_usage (run_id, model, tokens_in, tokens_out, cost_usd, node, created_at) "
                            "VALUES (%s, 'gpt-4o-mini', 1000, 300, 0.0003, 'narrate', %s)",
                            [(f"seed-{i}", start + timedelta(seconds=i * 30 + 1)) for i in range(runs)])
            last = conn.execute("SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1").fetchone()  # `up` audits its admin key
            rows, _ = _audit_rows(runs, start, last[0] if last else GENESIS_HASH)
            cur.executemany("INSERT INTO audit_events (ts, actor, action, subject, detail, prev_hash, hash) "
                            "VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)


class _State(TypedDict, total=False):
    applicant_id: str
    decision: str


async def checkpoint_threads(url: str, settings: Settings, threads: int) -> None:
    """``threads`` conversations through a two-node graph, checkpointed (encrypted) by LangGraph."""
    g = StateGraph(_State)
    g.add_node("score", lambda s: {"decision": "refer"})
    g.add_node("narrate", lambda s: {"decision": s["decision"] + "d"})
    g.add_edge(START, "score")
    g.add_edge("score", "narrate")
    g.add_edge("narrate", END)
    async with EncryptedAsyncPostgresSaver.from_conn_string(url, serde=encrypted_serde(settings)) as saver:
        graph = g.compile(checkpointer=saver)
        for i in range(threads):
            await graph.ainvoke({"applicant_id": f"A{i:06d}"}, {"configurable": {"thread_id": f"thread-{i}"}})


async def trickle(url: str, stop: asyncio.Event, last_hash: str) -> int:
    """Commit a run and its audit event every ~100 ms until ``stop``; returns the commits."""
    commits, prev = 0, last_hash
    async with await psycopg.AsyncConnection.connect(url) as conn:
        while not stop.is_set():
            run_id = f"live-{uuid.uuid4().hex[:12]}"
            ts = datetime.now(UTC)
            detail = {"run_id": run_id, "tenant": "default"}
            h = event_hash(prev, ts.isoformat(), "gateway", "run.started", f"run:{run_id}", detail)
            async with conn.transaction():
                await conn.execute("INSERT INTO runs (id, agent_name, version, thread_id, tenant, started_by, status, input, "
                                   "workflow_id, started_at, wait_ms, tokens_in, tokens_out, cost_usd) VALUES (%s, %s, 1, %s, "
                                   "'default', 'key-1', 'running', '{}', %s, now(), 0, 0, 0, 0)",
                                   (run_id, AGENT, run_id, f"run:{run_id}"))
                await conn.execute("INSERT INTO audit_events (ts, actor, action, subject, detail, prev_hash, hash) VALUES "
                                   "(%s, 'gateway', 'run.started', %s, %s, %s, %s)", (ts, f"run:{run_id}", json.dumps(detail), prev, h))
            prev, commits = h, commits + 1
            await asyncio.sleep(TRICKLE_EVERY_S)
    return commits


def counts(url: str) -> tuple[int, int, str]:
    """Runs, audit events and the last audit hash."""
    with psycopg.connect(url) as conn:
        runs = conn.execute("SELECT count(*) FROM runs").fetchone()[0]
        audit, last = conn.execute("SELECT count(*), (SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1) "
                                   "FROM audit_events").fetchone()
    return runs, audit, last


def last_restored_commit(restored) -> datetime:
    """When the newest transaction in the restore committed: the last one replayed; when recovery replayed
    none (no WAL segment was archived after the backup), the newest row's stamp (the trickle's rows are
    stamped by their transaction, which commits within milliseconds)."""
    if restored.last_replayed_at:
        return datetime.fromisoformat(restored.last_replayed_at)
    with psycopg.connect(restored.url) as conn:
        return conn.execute("SELECT max(ts) FROM audit_events").fetchone()[0]


async def disaster_and_recovery(stack: LocalStack, settings: Settings, url: str, trickle_s: float, tmp: Path,
                                n: int) -> Round:
    """Trickle, destroy the data directory, restore, verify, and switch the stack to the restore (as the
    Restore runbook does), so the next round starts from it; the round's figures."""
    _, _, last_hash = counts(url)
    stop = asyncio.Event()
    writer = asyncio.create_task(trickle(url, stop, last_hash))
    await asyncio.sleep(trickle_s)
    stop.set()
    commits = await writer
    restores = RestoreActivities(settings)
    source = await restores.source_position(SourcePositionRequest())
    runs_before, audit_before, _ = counts(url)
    stack.postgres.kill()
    shutil.rmtree(stack.postgres.pgdata)
    print(f"  round {n}: {commits} trickle commits; disaster at {source.at} (last commit {source.last_commit_at}): "
          "postmaster SIGKILLed, data directory deleted", flush=True)

    t0 = time.perf_counter()
    restored = await restores.restore_to_point(RestoreRequest(target_dir=str(tmp / f"restored-{n}")))
    t_restored = time.perf_counter()
    check = await restores.verify_restored(VerifyRestoreRequest(url=restored.url, run_agent=False))
    t_verified = time.perf_counter()
    runs_after, audit_after, _ = counts(restored.url)
    rpo = (datetime.fromisoformat(source.last_commit_at) - last_restored_commit(restored)).total_seconds()
    switched = await restores.switch_database(SwitchDatabaseRequest(restored_dir=restored.target_dir))
    problems = check.problems + ([] if check.checkpoint_read else ["no checkpoint read back"])
    return Round(rto_s=t_verified - t0, restore_s=t_restored - t0, verify_s=t_verified - t_restored, switch_s=switched.duration_s,
                 rpo_s=rpo, runs_lost=runs_before - runs_after, audit_lost=audit_before - audit_after, trickle_commits=commits,
                 ok=check.ok and check.checkpoint_read, problems=problems)


def bulk(url: str, mib: int) -> int:
    """Insert runs in batches of 1,000 until the WAL has grown by ``mib`` MiB; returns the runs."""
    n = 0
    with psycopg.connect(url, autocommit=True) as conn:
        start = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        while conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", (start,)).fetchone()[0] < mib * 2**20:
            conn.execute("INSERT INTO runs (id, agent_name, version, thread_id, tenant, started_by, status, input, output, "
                         "workflow_id, started_at, wait_ms, tokens_in, tokens_out, cost_usd) SELECT 'bulk-' || %s || '-' || g, "
                         "%s, 1, 'bulk', 'default', 'key-1', 'succeeded', '{\"amount\": 1000}', jsonb_build_object('narrative', "
                         "repeat('x', 400)), 'run:bulk', now(), 0, 1000, 300, 0.001 FROM generate_series(1, 1000) g", (n, AGENT))
            n += 1000
    return n


async def main(runs: int, threads: int, trickle_s: float, rounds: int, bulk_mib: int, keep: bool) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="shipway-restore-drill-"))
    settings = Settings(_env_file=None, state_dir=tmp / "state", database_url=None, temporal_address=None,
                        postgres_port=free_port(), checkpoint_keys=None, backup_s3_url=None)
    stack = LocalStack(settings, echo=lambda *a, **k: None)
    print(f"restore drill in {tmp}: {runs:,} runs, archive_timeout {settings.wal_archive_timeout_s} s, "
          f"{os.cpu_count()} cores", flush=True)
    try:
        url = stack.up(only=["postgres", "migrations"])["database_url"]
        t = time.perf_counter()
        seed(url, runs)
        await checkpoint_threads(url, settings, threads)
        with psycopg.connect(url) as conn:
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        print(f"  seeded {runs:,} runs, audit events and LLM calls, {threads} checkpointed threads in "
              f"{time.perf_counter() - t:.1f} s; database {size / 2**20:.0f} MiB", flush=True)
        async with Database(url, pool_size=2) as db:
            backup = await BackupActivities(settings, db).take_base_backup(BaseBackupRequest(kind="full", started_by="bench"))
        print(f"  base backup {backup.backup_id}: {backup.size_bytes / 2**20:.0f} MiB in {backup.duration_s:.1f} s "
              f"(pg_basebackup + pg_verifybackup), verified {backup.verified}", flush=True)
        if bulk_mib:
            t = time.perf_counter()
            print(f"  {bulk(url, bulk_mib):,} more runs: {bulk_mib} MiB of WAL after the backup in "
                  f"{time.perf_counter() - t:.0f} s", flush=True)
        rnd = random.Random(2014)
        results = [await disaster_and_recovery(stack, settings, url, trickle_s + rnd.uniform(0, settings.wal_archive_timeout_s),
                                               tmp, n + 1) for n in range(rounds)]
    finally:
        stack.down()
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(f"{'round':>5} {'RTO s':>7} {'restore s':>9} {'verify s':>8} {'switch s':>8} {'RPO s':>6} {'runs lost':>9} "
          f"{'audit lost':>10} {'commits':>7}  verified")
    for i, r in enumerate(results, 1):
        print(f"{i:>5} {r.rto_s:>7.1f} {r.restore_s:>9.1f} {r.verify_s:>8.1f} {r.switch_s:>8.1f} {r.rpo_s:>6.1f} "
              f"{r.runs_lost:>9} {r.audit_lost:>10} {r.trickle_commits:>7}  {'ok' if r.ok else '; '.join(r.problems)}")
    rto, rpo = max(r.rto_s for r in results), max(r.rpo_s for r in results)
    print(f"\nRTO worst {rto:.1f} s (median {statistics.median(r.rto_s for r in results):.1f} s), target <= {RTO_TARGET_S:.0f} s: "
          f"{'met' if rto <= RTO_TARGET_S else 'MISSED'}")
    print(f"RPO worst {rpo:.1f} s (median {statistics.median(r.rpo_s for r in results):.1f} s), target <= {RPO_TARGET_S:.0f} s: "
          f"{'met' if rpo <= RPO_TARGET_S else 'MISSED'}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10_000, help="runs seeded before the base backup")
    ap.add_argument("--threads", type=int, default=200, help="LangGraph threads checkpointed before the base backup")
    ap.add_argument("--trickle-s", type=float, default=30.0, help="least seconds of writes before each disaster")
    ap.add_argument("--rounds", type=int, default=5, help="disasters, each recovered from the previous recovery")
    ap.add_argument("--bulk-mib", type=int, default=0, help="MiB of WAL written after the base backup (replayed by round 1)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (data, backups, logs)")
    a = ap.parse_args()
    asyncio.run(main(a.runs, a.threads, a.trickle_s, a.rounds, a.bulk_mib, a.keep))
