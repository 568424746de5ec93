"""Connection-pool exhaustion: who holds the database's connections (``pg_stat_activity``), and
terminating the backends that hold them for nothing. Writes no table.

Reads run as the worker's role: ``shipway_platform`` sees what other sessions do through
``pg_read_all_stats`` (migration 0017); the login role works as well. Signals run as the login role
on a connection of their own (:func:`login_connection`): PostgreSQL lets only a superuser terminate
a superuser's backend (the embedded stack logs every process in as its superuser), and elsewhere the
login role holds ``pg_signal_backend`` through ``shipway_platform``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from psycopg.rows import dict_row
from sqlalchemy import text
from temporalio import activity

from shipway.db.engine import Database
from workflows.diagnostics_types import (
    INSPECT_CONNECTIONS,
    TERMINATE_BACKENDS,
    Backend,
    ConnectionsCheck,
    ConnectionsReport,
    TerminateBackends,
    TerminatedBackends,
)

APPLICATION_NAME = "shipway-runbook"
QUERY_CHARS = 200
# How long pg_terminate_backend waits for the backend to exit, milliseconds (PostgreSQL >= 14).
TERMINATE_WAIT_MS = 5000

# When a backend's transaction began: PostgreSQL clears xact_start once a transaction fails, so an
# aborted one that nobody rolled back counts from when it failed (its last state change).
_XACT_START = "coalesce(a.xact_start, CASE WHEN a.state = 'idle in transaction (aborted)' THEN a.state_change END)"
_BACKENDS = text(f"""
SELECT a.pid, coalesce(a.usename, '') AS usename, coalesce(a.application_name, '') AS application_name,
       coalesce(a.state, 'unknown') AS state, a.client_addr::text AS client,
       extract(epoch FROM now() - {_XACT_START})::float8 AS xact_age_s,
       extract(epoch FROM now() - a.query_start)::float8 AS query_age_s,
       extract(epoch FROM now() - a.state_change)::float8 AS state_age_s, left(coalesce(a.query, ''), {QUERY_CHARS}) AS query
FROM pg_stat_activity a
WHERE a.datname = current_database() AND a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()
""")
_SLOTS = text("""
SELECT current_setting('max_connections')::int AS max_connections,
       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') AS cluster_total
""")

# One statement per pid, so the checks and the signal see the same snapshot of the backend (a pid
# can be reused by a new backend between an inspection and a confirmation): CASE signals only a
# backend that passes every check.
_TERMINATE = f"""
SELECT a.pid = pg_backend_pid() AS own, a.datname = current_database() AS here, a.backend_type,
       coalesce(a.state, 'unknown') AS state, extract(epoch FROM now() - {_XACT_START})::float8 AS xact_age_s,
       CASE WHEN a.pid <> pg_backend_pid() AND a.datname = current_database() AND a.backend_type = 'client backend'
                 AND a.state IN (%(state)s, %(state)s || ' (aborted)')
                 AND now() - {_XACT_START} >= make_interval(secs => %(min_age_s)s)
            THEN pg_terminate_backend(a.pid, %(wait_ms)s) END AS terminated
FROM pg_stat_activity a WHERE a.pid = %(pid)s
"""


def libpq_url(url: str) -> str:
    """``url`` in libpq's form (``postgresql://``), from SQLAlchemy's ``postgresql+psycopg://`` too."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@asynccontextmanager
async def login_connection(db: Database) -> AsyncIterator[psycopg.AsyncConnection]:
    """A new autocommit connection to ``db`` as its login role (``db.role`` is not applied), rows as
    dicts, closed afterwards. For statements the worker's role may not run: signals and DDL.

    Raises:
        psycopg.OperationalError: the database cannot be reached.
    """
    async with await psycopg.AsyncConnection.connect(libpq_url(db.url), autocommit=True, row_factory=dict_row,
                                                     application_name=APPLICATION_NAME) as conn:
        yield conn


def _backend(row) -> Backend:
    return Backend(pid=row.pid, user=row.usename, application=row.application_name, state=row.state,
                   xact_age_s=row.xact_age_s, query_age_s=row.query_age_s, query=row.query, client=row.client,
                   state_age_s=row.state_age_s)


class DbHealthActivities:
    """Diagnostics and remediation of the database's connections.

    Args:
        db: the catalog database (any role; see the module doc for what each needs).
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    @activity.defn(name=INSPECT_CONNECTIONS)
    async def inspect_connections(self, inp: ConnectionsCheck) -> ConnectionsReport:
        """The client backends of the current database, except this one: counts by state and
        application, ``max_connections`` and the share in use, the backends idle in a transaction for
        at least ``inp.idle_in_transaction_min_s`` (oldest transaction first) and those running one
        query for at least ``inp.long_query_min_s`` (oldest first).

        A role without ``pg_read_all_stats`` does not see other logins' backends at all (PostgreSQL
        hides their ``backend_type`` and ``state`` from it).
        """
        async with self.db.session() as s:
            rows = (await s.exec(_BACKENDS)).all()
            slots = (await s.exec(_SLOTS)).one()
        idle = sorted((r for r in rows if r.state.startswith("idle in transaction")
                       and (r.xact_age_s or 0.0) >= inp.idle_in_transaction_min_s), key=lambda r: -(r.xact_age_s or 0.0))
        long = sorted((r for r in rows if r.state == "active" and (r.query_age_s or 0.0) >= inp.long_query_min_s),
                      key=lambda r: -(r.query_age_s or 0.0))
        return ConnectionsReport(
            max_connections=slots.max_connections, total=len(rows), by_state=dict(Counter(r.state for r in rows)),
            by_application=dict(Counter(r.application_name for r in rows)), usage=len(rows) / slots.max_connections,
            idle_in_transaction=[_backend(r) for r in idle], long_running=[_backend(r) for r in long],
            cluster_total=slots.cluster_total)

    @activity.defn(name=TERMINATE_BACKENDS)
    async def terminate_backends(self, inp: TerminateBackends) -> TerminatedBackends:
        """Terminate each of ``inp.pids`` that is, when signalled, a client backend of this database
        (not this activity's own) in ``inp.state`` (or its ``(aborted)`` form) with a transaction at
        least ``inp.min_xact_age_s`` old; waits up to :data:`TERMINATE_WAIT_MS` for each to exit. Every
        other pid is skipped with the reason, including one PostgreSQL refused to signal (permission
        denied: only a superuser may terminate a superuser's backend).

        Raises:
            psycopg.OperationalError: the database cannot be reached (retryable: a pid already
                terminated is then skipped as gone).
        """
        terminated, skipped = [], {}
        async with login_connection(self.db) as conn:
            for pid in dict.fromkeys(inp.pids):
                try:
                    row = await (await conn.execute(_TERMINATE, {"pid": pid, "state": inp.state, "min_age_s": inp.min_xact_age_s,
                                                                 "wait_ms": TERMINATE_WAIT_MS})).fetchone()
                except psycopg.errors.InsufficientPrivilege as exc:
                    skipped[str(pid)] = "; ".join(m for m in ("permission denied", exc.diag.message_primary,
                                                              exc.diag.message_detail) if m)
                    continue
                why = _why_skipped(row, inp)
                if why is None:
                    terminated.append(pid)
                else:
                    skipped[str(pid)] = why
        return TerminatedBackends(terminated=terminated, skipped=skipped)


def _why_skipped(row: dict | None, inp: TerminateBackends) -> str | None:
    """Why the backend of ``row`` was not terminated, or None when it was."""
    if row is None:
        return "no such backend (it has ended)"
    if row["terminated"]:
        return None
    if row["own"]:
        return "the runbook's own backend"
    if not row["here"]:
        return "a backend of another database"
    if row["backend_type"] != "client backend":
        return f"not a client backend ({row['backend_type']})"
    if row["state"] not in (inp.state, f"{inp.state} (aborted)"):
        return f"its state is now {row['state']!r}, not {inp.state!r}"
    if row["xact_age_s"] is None or row["xact_age_s"] < inp.min_xact_age_s:
        age = "no transaction" if row["xact_age_s"] is None else f"transaction {row['xact_age_s']:.1f} s old"
        return f"{age}, under {inp.min_xact_age_s:g} s"
    if row["terminated"] is False:
        return f"signalled, but still running after {TERMINATE_WAIT_MS / 1000:g} s"
    return "not terminated"
