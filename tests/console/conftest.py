"""Console-only fixtures: a dedicated migrated database per session (so truncating it between
tests never touches rows other suites seeded in ``pg_url``), settings pointing at it, seeding,
an ``AppTest`` of the real ``console/app.py``, and Shipway's real workers for the tests that
drive real workflows from the pages."""

from __future__ import annotations

import asyncio
import io
import json
import tarfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest
import pytest_asyncio
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel
from streamlit.testing.v1 import AppTest

from activities.artifact_format import pack
from tests.support.workers import running_workers

APP = Path(__file__).resolve().parents[2] / "console" / "app.py"
CHECKPOINT_TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")
APP_TIMEOUT_S = 60


@pytest.fixture(scope="session")
def console_db_url(pg_url: str) -> str:
    """``postgresql://`` URL of database ``shipway_console`` on the test server, migrated to head."""
    from shipway.db.migrate import upgrade

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS shipway_console")
        conn.execute("CREATE DATABASE shipway_console")
    url = make_url(pg_url).set(database="shipway_console").render_as_string(hide_password=False)
    upgrade(url)
    return url


def _reset_engines() -> None:
    """Forget cached engines so the next ``sync_engine()`` reads the current ``DATABASE_URL``."""
    from shipway.db.engine import sync_engine

    sync_engine.cache_clear()


@pytest.fixture
def console_env(settings_env, console_db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """Settings pointing at an emptied console database and the test Temporal server; yields them."""
    from shipway.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", console_db_url)
    get_settings.cache_clear()
    _reset_engines()
    tables = [t.name for t in SQLModel.metadata.sorted_tables] + list(CHECKPOINT_TABLES)
    with psycopg.connect(console_db_url) as conn:
        # the test's own superuser empties the audit log too: its append-only trigger is lifted for
        # this one transaction (the application never can)
        conn.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_truncate")
        conn.execute("TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY CASCADE")
        conn.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_truncate")
        conn.commit()
    try:
        yield get_settings()
    finally:
        _reset_engines()
        get_settings.cache_clear()


@pytest.fixture
def console_role(console_env, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """``console_role(role)``: the local operator's role (``SHIPWAY_CONSOLE_ROLE``) for the apps run
    afterwards; without it the console runs as the default role, ``operator``."""
    from shipway.settings import get_settings

    def set_role(role: str) -> None:
        monkeypatch.setenv("SHIPWAY_CONSOLE_ROLE", role)
        get_settings.cache_clear()

    return set_role


@pytest.fixture
def seed(console_env) -> Callable[..., None]:
    """``seed(*rows)``: insert SQLModel rows into the console database in one transaction."""
    from shipway.db.engine import sync_engine

    def add(*rows: SQLModel) -> None:
        with Session(sync_engine()) as s:
            s.add_all(rows)
            s.commit()

    return add


@pytest.fixture
def app(console_env) -> Callable[[str | None], AppTest]:
    """``app(page)``: the console's ``AppTest``, run once, then switched to ``page``
    (e.g. ``"views/runs.py"``) and run again when given."""

    def open_page(page: str | None = None) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=APP_TIMEOUT_S).run()
        if page:
            at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return open_page


@pytest_asyncio.fixture(loop_scope="session")
async def shipway_worker(console_env, temporal_env) -> AsyncIterator:
    """Shipway's real workers (both task queues) in this process, on the console's database; yields the client."""
    async with running_workers(temporal_env.client) as client:
        yield client


@pytest_asyncio.fixture(loop_scope="session")
async def db(console_env) -> AsyncIterator:
    """A :class:`~shipway.db.engine.Database` on the console's database, disposed afterwards."""
    from shipway.db.engine import Database

    async with Database.from_settings(pool_size=2) as database:
        yield database


async def run_app(at: AppTest) -> AppTest:
    """Run the app off the event loop, so the in-process worker keeps serving Temporal meanwhile."""
    await asyncio.to_thread(at.run)
    assert not at.exception, [e.value for e in at.exception]
    return at


async def open_page(page: str, operator: str, run_id: str | None = None) -> AppTest:
    """The console acting as the local operator ``operator`` (typed in the sidebar; the role is
    ``SHIPWAY_CONSOLE_ROLE``'s), on ``page``; on the Runs page with ``run_id`` picked when given
    (the ``?run=`` link)."""
    at = AppTest.from_file(str(APP), default_timeout=APP_TIMEOUT_S)
    await run_app(at)
    at.sidebar.text_input(key="operator_name").input(operator)
    await run_app(at)
    at.switch_page(page)
    if run_id:
        at.query_params["run"] = run_id
    return await run_app(at)


def project_archive(folder: Path, top: str | None = None) -> bytes:
    """A ``.tar.gz`` of the project in ``folder``: its files at the archive's root, or under one
    folder ``top`` (how ``tar czf loan.tar.gz loan/`` packs it)."""
    if top is None:
        return pack(folder)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(folder, arcname=top)
    return buf.getvalue()


def chart_rows(at: AppTest) -> dict[str | None, list[dict]]:
    """The page's Vega-Lite charts by title, each as the rows of its datasets."""
    charts = {}
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        title = spec.get("title", {}).get("text") if isinstance(spec.get("title"), dict) else spec.get("title")
        rows = []
        for dataset in chart.proto.datasets:
            rows += pa.ipc.open_stream(io.BytesIO(dataset.data.data)).read_all().to_pylist()
        charts[title] = rows
    return charts
