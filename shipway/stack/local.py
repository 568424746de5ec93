"""The local stack under one state directory: ``up`` starts what is not configured, in order
(PostgreSQL, Temporal, migrations, worker, gateway, console), ``down`` stops it in reverse,
``status`` probes each component.

Layout of ``state_dir``: ``postgres/`` (PGDATA), ``temporal/`` (SQLite, pid), ``pids/``
(worker, gateway, console), ``logs/``, ``stack.json`` (addresses; read by the settings).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from shipway.settings import CONTROL_TASK_QUEUE, Settings
from shipway.stack import health, processes
from shipway.stack.ports import choose_port, free_port
from shipway.stack.postgres import EmbeddedPostgres
from shipway.stack.temporal_server import TemporalDevServer

COMPONENTS = ("postgres", "temporal", "migrations", "worker", "gateway", "console")
SERVICES = ("worker", "gateway", "console")  # `shipway <name>` commands run as detached processes
HEALTH_PATHS = {"gateway": "/healthz", "console": "/_stcore/health"}


@dataclass
class ComponentStatus:
    """One line of ``shipway status``: ``url`` (or address), ``pid`` (None when external or down),
    ``healthy`` and a short ``detail``."""

    name: str
    url: str
    pid: int | None
    healthy: bool
    detail: str


def shipway_command() -> list[str]:
    """argv prefix that runs this installation's ``shipway`` CLI."""
    script = Path(sys.prefix) / "bin" / "shipway"
    if script.exists():
        return [str(script)]
    found = shutil.which("shipway")
    return [found] if found else [sys.executable, "-c", "from shipway.cli import app; app()"]


class LocalStack:
    """Start, stop and probe the stack described by ``settings`` (state dir, ports, and whether
    ``DATABASE_URL`` / ``TEMPORAL_ADDRESS`` point elsewhere). Progress goes to ``echo``, called
    like :func:`print` (``end``/``flush`` keywords)."""

    def __init__(self, settings: Settings, echo: Callable[..., None] = print) -> None:
        self.settings = settings
        self.state_dir = settings.state_dir.resolve()
        self.logs = self.state_dir / "logs"
        self.pids = self.state_dir / "pids"
        self.stack_file = self.state_dir / "stack.json"
        self.echo = echo
        # WAL archived into the backup directory: the base of point-in-time restores (activities/backups.py)
        self.postgres = EmbeddedPostgres(self.state_dir / "postgres", self.logs / "postgres.log",
                                         wal_archive_dir=settings.resolved_backup_dir / "wal",
                                         archive_timeout_s=settings.wal_archive_timeout_s)
        self.temporal = TemporalDevServer(self.state_dir / "temporal", self.logs / "temporal.log")

    # -- stack.json -------------------------------------------------------------------------
    def record(self) -> dict:
        """The recorded stack (``{}`` when none)."""
        try:
            return json.loads(self.stack_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def _save(self, record: dict) -> None:
        tmp = self.stack_file.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True))
        tmp.replace(self.stack_file)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise ``up``/``down`` on one state dir across processes."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with (self.state_dir / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # -- up ---------------------------------------------------------------------------------
    def up(self, only: Iterable[str] | None = None, pick_free_ports: bool = False, timeout_s: float = 120.0) -> dict:
        """Start the selected components (default: all) that are not running or configured
        elsewhere; already running ones are reused. Records addresses in ``stack.json``.

        Args:
            only: subset of :data:`COMPONENTS`, started in the canonical order.
            pick_free_ports: when a configured port is taken, use a free one instead of failing.
            timeout_s: readiness deadline per service, seconds.

        Returns:
            The stack record written to ``stack.json``.

        Raises:
            ValueError: unknown component name.
            PortInUseError: a configured port is taken and ``pick_free_ports`` is False.
            RuntimeError: a component did not start; the message says which and shows its log tail.
        """
        selected = set(only or COMPONENTS)
        if unknown := selected - set(COMPONENTS):
            raise ValueError(f"unknown components {sorted(unknown)}; choose from {', '.join(COMPONENTS)}")
        with self._locked():
            self.logs.mkdir(parents=True, exist_ok=True)
            record = self.record()
            record["state_dir"] = str(self.state_dir)
            record["components"] = sorted(set(record.get("components", [])) | selected, key=COMPONENTS.index)
            if "postgres" in selected:
                self._up_postgres(record, pick_free_ports)
            if "temporal" in selected:
                self._up_temporal(record, pick_free_ports)
            if "migrations" in selected:
                self._up_migrations(record)
            for name in SERVICES:
                if name in selected:
                    self._up_service(name, record, pick_free_ports, timeout_s)
            return record

    def _step(self, component: str) -> float:
        self.echo(f"[up] {component} ... ", end="", flush=True)
        return time.monotonic()

    def _done(self, component: str, started: float, what: str) -> None:
        self.echo(f"{what} [{time.monotonic() - started:.1f}s]", flush=True)

    def _up_postgres(self, record: dict, pick_free_ports: bool) -> None:
        t0 = self._step("postgres")
        if self.settings.database_url:
            self._done("postgres", t0, "external (DATABASE_URL)")
            return
        state = "already running" if self.postgres.running() else "ok"
        info = self.postgres.start(self.settings.postgres_port, pick_free_port=pick_free_ports)
        record.update(database_url=info.url, postgres={"pid": info.pid, "port": info.port, "pgdata": str(info.pgdata), "log": str(info.log_file)})
        self._save(record)
        self._done("postgres", t0, f"{state} ({info.url}, pid {info.pid})")

    def _up_temporal(self, record: dict, pick_free_ports: bool) -> None:
        t0 = self._step("temporal")
        if self.settings.temporal_address:
            self._done("temporal", t0, f"external ({self.settings.temporal_address})")
            return
        state = "already running" if self.temporal.running() else "ok"
        info = self.temporal.start(self.settings.temporal_port, self.settings.temporal_ui_port, pick_free_ports=pick_free_ports)
        record.update(
            temporal_address=info.address,
            temporal_ui_url=info.ui_url,
            temporal={"pid": info.pid, "port": info.port, "ui_port": info.ui_port, "db_file": info.db_file, "log": info.log_file},
        )
        self._save(record)
        self._done("temporal", t0, f"{state} ({info.address}, UI {info.ui_url}, pid {info.pid})")

    def _database_url(self, record: dict) -> str:
        url = self.settings.database_url or record.get("database_url")
        if not url:
            raise RuntimeError("migrations need a database: set DATABASE_URL or include postgres in the components")
        return url

    def _up_migrations(self, record: dict) -> None:
        from shipway.db.migrate import upgrade

        t0 = self._step("migrations")
        revision = upgrade(self._database_url(record))
        record["schema_revision"] = revision
        self._save(record)
        self._done("migrations", t0, f"ok (revision {revision} + LangGraph checkpoint tables)")
        self._up_admin_key(record)
        self._up_checkpoint_keys()

    def _up_admin_key(self, record: dict) -> None:
        """Keep a working local admin key in ``<state_dir>/admin.key`` (0600) for the CLI and demo."""
        from sqlmodel import Session

        from shipway.auth.key_store import ensure_local_admin_key
        from shipway.db.engine import sync_engine

        t0 = self._step("admin key")
        path = self.state_dir / "admin.key"
        with Session(sync_engine(self._database_url(record))) as s:
            created = ensure_local_admin_key(s, path)
            s.commit()
        self._done("admin key", t0, f"{'created' if created else 'kept'} ({path}, owner-only)")

    def _up_checkpoint_keys(self) -> None:
        """Check ``SHIPWAY_CHECKPOINT_KEYS`` when set, else keep the checkpoint encryption key file
        ``<state_dir>/checkpoint.keys`` (0600; created with a fresh key when missing)."""
        from shipway.checkpoint_keys import KEY_FILE_NAME, ensure_checkpoint_key_file, parse_checkpoint_keys

        t0 = self._step("checkpoint keys")
        if self.settings.checkpoint_keys is not None:
            keys = parse_checkpoint_keys(self.settings.checkpoint_keys)
            self._done("checkpoint keys", t0, f"from SHIPWAY_CHECKPOINT_KEYS (encrypting with {keys[0][0]}, {len(keys)} in all)")
            return
        path = self.state_dir / KEY_FILE_NAME
        created = ensure_checkpoint_key_file(path)
        keys = parse_checkpoint_keys(path.read_text(), source=str(path))
        self._done("checkpoint keys", t0, f"{'created' if created else 'kept'} ({path}, owner-only; encrypting with {keys[0][0]})")

    def _child_env(self, record: dict) -> dict[str, str]:
        env = dict(os.environ)
        env["SHIPWAY_STATE_DIR"] = str(self.state_dir)
        for key, value in (("gateway", "SHIPWAY_GATEWAY_PORT"), ("console", "SHIPWAY_CONSOLE_PORT")):
            if port := record.get(key, {}).get("port"):
                env[value] = str(port)
        if "gateway_url" in record:
            env["SHIPWAY_GATEWAY_URL"] = record["gateway_url"]
        for key, value in (("metrics_port", "SHIPWAY_WORKER_METRICS_PORT"), ("temporal_metrics_port", "SHIPWAY_TEMPORAL_METRICS_PORT")):
            if port := record.get("worker", {}).get(key):
                env[value] = str(port)
        return env

    def _up_service(self, name: str, record: dict, pick_free_ports: bool, timeout_s: float) -> None:
        t0 = self._step(name)
        pid_file = self.pids / f"{name}.pid"
        if pid := processes.running_pid(pid_file):
            self._done(name, t0, f"already running (pid {pid})")
            return
        entry: dict = {}
        if name in HEALTH_PATHS:
            wanted = self.settings.gateway_port if name == "gateway" else self.settings.console_port
            port = choose_port(name, wanted, pick_free_ports, avoid=self._ports_in_use(record, except_for=name))
            host = self.settings.gateway_host if name == "gateway" else "127.0.0.1"
            entry.update(port=port, url=f"http://{host}:{port}")
            record[f"{name}_url"] = entry["url"]
        if name == "worker":
            # its own /metrics and its Temporal SDK's, on free ports unless configured
            taken = self._ports_in_use(record, except_for=name)
            entry["metrics_port"] = self.settings.worker_metrics_port or free_port(avoid=taken)
            entry["temporal_metrics_port"] = self.settings.temporal_metrics_port or free_port(avoid=taken | {entry["metrics_port"]})
        record[name] = entry
        log = self.logs / f"{name}.log"
        pid = processes.spawn([*shipway_command(), name], log, pid_file, env=self._child_env(record))
        entry.update(pid=pid, log=str(log))
        self._save(record)
        exit_code: list[int] = []

        def ready() -> bool:
            if (code := processes.exited_early(pid)) is not None:
                exit_code.append(code)
                return True
            return self._service_healthy(name, record)[0]

        ok = processes.wait_until(ready, timeout_s, 0.5)
        if exit_code or not ok:
            processes.stop(pid_file)
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
            why = f"exited with code {exit_code[0]}" if exit_code else f"did not become healthy within {timeout_s:.0f}s"
            raise RuntimeError(f"`shipway {name}` {why}; end of {log}:\n{tail}")
        where = entry.get("url") or (f"polling {CONTROL_TASK_QUEUE}, metrics http://127.0.0.1:{entry['metrics_port']}/metrics, "
                                     f"SDK metrics http://127.0.0.1:{entry['temporal_metrics_port']}/metrics")
        self._done(name, t0, f"ok ({where}, pid {pid})")

    @staticmethod
    def _ports_in_use(record: dict, except_for: str | None = None) -> set[int]:
        # a component's own port from an earlier, failed start is not "in use" by another
        ports = {record.get(k, {}).get("port") for k in ("postgres", "temporal", "gateway", "console") if k != except_for}
        ports.add(record.get("temporal", {}).get("ui_port"))
        if except_for != "worker":
            ports |= {record.get("worker", {}).get(k) for k in ("metrics_port", "temporal_metrics_port")}
        return {p for p in ports if p}

    def _service_healthy(self, name: str, record: dict) -> health.Probe:
        if name == "worker":
            return health.temporal(self._settings_for(record), worker_pid=record["worker"]["pid"])
        return health.http(record[name]["url"] + HEALTH_PATHS[name])

    def _settings_for(self, record: dict) -> Settings:
        """The settings with the recorded addresses filled in where none is configured."""
        return self.settings.model_copy(
            update={
                "database_url": self.settings.database_url or record.get("database_url"),
                "temporal_address": self.settings.temporal_address or record.get("temporal_address"),
            }
        )

    # -- down -------------------------------------------------------------------------------
    def down(self, timeout_s: float = 15.0) -> list[str]:
        """Stop everything this state dir started, in reverse order (services with SIGTERM, then
        SIGKILL after ``timeout_s``; PostgreSQL with ``pg_ctl stop -m fast``). Data is kept.

        Returns:
            Names of the components that were running and are now stopped.
        """
        stopped = []
        with self._locked():
            for name in reversed(SERVICES):
                if processes.stop(self.pids / f"{name}.pid", timeout_s):
                    stopped.append(name)
                self.echo(f"[down] {name} ... {'stopped' if name in stopped else 'not running'}", flush=True)
            if self.temporal.stop(timeout_s):
                stopped.append("temporal")
            self.echo(f"[down] temporal ... {'stopped' if 'temporal' in stopped else 'not running'}")
            if self.postgres.stop():
                stopped.append("postgres")
            self.echo(f"[down] postgres ... {'stopped' if 'postgres' in stopped else 'not running'}")
            self.stack_file.unlink(missing_ok=True)
        return stopped

    # -- status -----------------------------------------------------------------------------
    def status(self) -> list[ComponentStatus]:
        """Probe every component that was started here or is configured externally."""
        record = self.record()
        started = set(record.get("components", []))
        settings = self._settings_for(record)
        rows: list[ComponentStatus] = []
        db_url = settings.database_url
        if db_url:
            pid = None if self.settings.database_url else (info.pid if (info := self.postgres.running()) else None)
            ok, detail = health.postgres(db_url)
            rows.append(ComponentStatus("postgres", _redact(db_url), pid, ok, detail))
        elif "postgres" in started:
            rows.append(ComponentStatus("postgres", "-", None, False, "not running"))
        if settings.temporal_address:
            pid = None if self.settings.temporal_address else (info.pid if (info := self.temporal.running()) else None)
            ok, detail = health.temporal(settings)
            ui = record.get("temporal_ui_url") or settings.resolved_temporal_ui_url()
            rows.append(ComponentStatus("temporal", f"{settings.temporal_address} (UI {ui})", pid, ok, detail))
        elif "temporal" in started:
            rows.append(ComponentStatus("temporal", "-", None, False, "not running"))
        for name in SERVICES:
            if name not in started:
                continue
            pid = processes.running_pid(self.pids / f"{name}.pid")
            url = record.get(name, {}).get("url", "-")
            if pid is None:
                rows.append(ComponentStatus(name, url, None, False, "not running"))
                continue
            ok, detail = self._service_healthy(name, {**record, name: {**record.get(name, {}), "pid": pid}})
            rows.append(ComponentStatus(name, url, pid, ok, detail))
        return rows


def _redact(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
