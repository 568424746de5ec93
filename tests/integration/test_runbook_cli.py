"""``shipway runbook`` against the real stack: the CLI runs in a subprocess (it leaves through
os._exit), the real workers serve the Connection-pool runbook in this process, on the test database.
A connection left idle in a transaction is what the runbook finds; ``confirm`` terminates it,
``skip`` leaves it; decisions that would reach no waiting step are refused with the reason."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from shipway import queries
from tests.support.runbooks import stored_until
from workflows.statuses import RunbookStatus, RunbookStepStatus

pytestmark = pytest.mark.asyncio(loop_scope="session")
REPO = Path(__file__).resolve().parents[2]
REMEDIATION = "terminate idle-in-transaction backends"


async def _cli(*args: str) -> tuple[int, str, str]:
    """``shipway runbook <args>`` in a subprocess with the test settings (``settings_env`` put them in
    the environment), without blocking the loop the in-process workers run on."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "shipway", "runbook", *args, cwd=REPO,
                                                env=dict(os.environ), stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 180)
    return proc.returncode, out.decode(), err.decode()


@contextmanager
def idle_in_transaction(url: str) -> Iterator[psycopg.Connection]:
    """A connection to ``url`` left idle inside an open transaction (what exhausts a pool)."""
    conn = psycopg.connect(url, application_name="runbook-cli-test")
    conn.execute("SELECT 1")  # psycopg opens a transaction on the first statement and keeps it open
    try:
        yield conn
    finally:
        conn.close()


def _started_id(out: str) -> str:
    return re.search(r"^started connection-pool (runbook:connection-pool:\S+)$", out, re.M).group(1)


def _step(detail: queries.RunbookRunDetail, name: str):
    return next(s for s in detail.steps if s.name == name)


def _awaiting(detail) -> bool:
    return any(s.name == REMEDIATION and s.status == RunbookStepStatus.AWAITING_CONFIRMATION for s in detail.steps)


def _ended(detail) -> bool:
    return detail.run.status in (RunbookStatus.COMPLETED, RunbookStatus.FAILED)


async def test_start_show_and_confirm_terminates_the_idle_connection(worker, db, settings_env):
    with idle_in_transaction(settings_env.resolved_database_url()) as conn:
        pid = conn.info.backend_pid
        code, out, err = await _cli("start", "connection-pool", "--no-wait", "--param", "idle_in_transaction_min_s=0",
                                    "-p", "long_query_min_s=30", "--reason", "pool near its limit", "--by", "alice")
        assert code == 0, err
        run_id = _started_id(out)
        assert settings_env.workflow_url(run_id) in out

        waiting = await stored_until(db, run_id, _awaiting)
        run = waiting.run
        assert (run.runbook, run.started_by, run.reason, run.trigger) == ("connection-pool", "alice", "pool near its limit", "operator")
        assert run.params == {"idle_in_transaction_min_s": 0, "long_query_min_s": 30}  # numbers, not text
        assert str(pid) in _step(waiting, REMEDIATION).proposal
        assert _step(waiting, "connections").findings["idle_in_transaction"]

        code, out, err = await _cli("show", run_id)
        assert code == 0, err
        assert re.search(rf"{REMEDIATION}\s+remediation\s+awaiting_confirmation", out)
        assert f"step '{REMEDIATION}' waits for a decision" in out and f"shipway runbook confirm {run_id}" in out
        assert "proposal: pg_terminate_backend" in out and settings_env.workflow_url(run_id) in out

        # a decision for a step that is not waiting is refused, and nothing is sent
        code, out, err = await _cli("confirm", run_id, "--step", "connections", "--by", "bob", "--reason", "go")
        assert code == 1
        assert "confirm refused: step 'connections' is not waiting for a decision; it is done" in err
        code, out, err = await _cli("confirm", run_id, "--step", "no-such-step", "--by", "bob", "--reason", "go")
        assert code == 1 and "has no step 'no-such-step'" in err
        assert _step(await db.read(queries.runbook_run, run_id), REMEDIATION).decided_by is None

        code, out, err = await _cli("confirm", run_id, "--by", "bob", "--reason", "idle since the 10:20 deploy")
        assert code == 0, err
        assert f"step '{REMEDIATION}' of {run_id}: confirm by bob recorded" in out

        ended = await stored_until(db, run_id, _ended)
        assert ended.run.status == RunbookStatus.COMPLETED
        step = _step(ended, REMEDIATION)
        assert (step.status, step.decided_by, step.reason) == (RunbookStepStatus.DONE, "bob", "idle since the 10:20 deploy")
        assert pid in step.result["terminated"]
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
        assert ended.run.report["actions"][0]["decided_by"] == "bob"

    code, out, err = await _cli("show", run_id)
    assert code == 0, err
    assert "report:" in out and f"action '{REMEDIATION}': done, decided by bob (idle since the 10:20 deploy); result: " in out
    assert "connections after" in out
    assert re.search(rf"{REMEDIATION}\s+remediation\s+done\s+[\d.]+ s  decided by bob: idle since the 10:20 deploy", out)
    assert f'result: skipped={{}} terminated=[{pid}]' in out

    code, out, err = await _cli("confirm", run_id, "--by", "bob", "--reason", "again")
    assert code == 1 and f"confirm refused: run {run_id} has ended (completed)" in err

    code, out, err = await _cli("list", "--status", "completed", "--limit", "50")
    assert code == 0, err
    [line] = [line for line in out.splitlines() if line.startswith(run_id)]
    assert line.split()[1:4] == ["connection-pool", "completed", "operator"]


async def test_start_follows_until_the_step_waits_and_skip_leaves_the_connection(worker, db, settings_env):
    with idle_in_transaction(settings_env.resolved_database_url()) as conn:
        pid = conn.info.backend_pid
        # without --no-wait the CLI follows the run and returns once a step waits for a decision
        code, out, err = await _cli("start", "connection-pool", "-p", "idle_in_transaction_min_s=0", "--by", "carol")
        assert code == 0, err
        run_id = _started_id(out)
        assert re.search(r"1\. connections\s+diagnostic\s+done", out)
        assert re.search(r"findings: .*idle_in_transaction=\[\d+ items?\]", out)  # summarised
        assert re.search(r"findings: .*max_connections=\d+", out)
        assert re.search(rf"proposal: pg_terminate_backend .*\b{pid}\b", out)
        assert re.search(rf"2\. {REMEDIATION}\s+remediation\s+awaiting_confirmation", out)
        assert f"shipway runbook skip {run_id}" in out
        assert _awaiting(await db.read(queries.runbook_run, run_id))

        code, out, err = await _cli("skip", run_id, "--by", "carol", "--reason", "the batch job holds it on purpose")
        assert code == 0, err
        assert "skip by carol recorded; the step is skipped" in out

        ended = await stored_until(db, run_id, _ended)
        step = _step(ended, REMEDIATION)
        assert (step.status, step.decided_by, step.reason, step.result) == (
            RunbookStepStatus.SKIPPED, "carol", "the batch job holds it on purpose", None)
        assert conn.execute("SELECT pg_backend_pid()").fetchone() == (pid,)  # still alive, same backend
        assert "none terminated" in ended.run.summary

        code, out, err = await _cli("skip", run_id, "--by", "carol", "--reason", "again")
        assert code == 1 and "has ended (completed)" in err


async def test_usage_errors_and_unknown_runs(worker, settings_env):
    code, out, err = await _cli("start", "connection-pools")
    assert code == 2
    assert "unknown runbook 'connection-pools'" in err
    assert all(name in err for name in ("high-error-rate", "connection-pool", "restore-drill"))

    code, out, err = await _cli("start", "connection-pool", "--param", "no-equals-sign")
    assert code == 2 and "parameter 'no-equals-sign' is not key=value" in err

    code, out, err = await _cli("confirm", "runbook:connection-pool:nope", "--by", "bob", "--reason", "x")
    assert code == 1 and "no runbook run runbook:connection-pool:nope" in err

    code, out, err = await _cli("show", "runbook:connection-pool:nope")
    assert code == 1 and "no runbook run runbook:connection-pool:nope: the database has no such run" in err

    code, out, err = await _cli("confirm", "runbook:connection-pool:nope", "--reason", "x")  # --by is required
    assert code == 2
