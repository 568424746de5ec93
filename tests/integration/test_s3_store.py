"""The S3 artifact store with boto3 against moto in server mode (a real HTTP S3 endpoint on
loopback), alone and as the store a whole lifecycle and run use."""

from __future__ import annotations

import pytest

from activities.artifact_format import sha256_hex
from activities.artifact_store import ArtifactNotFound, S3ArtifactStore, store_from_settings
from shipway import control, queries
from shipway.settings import get_settings
from tests.support.moto_server import moto_bucket
from tests.support.lifecycle import counting_spec, deploy
from tests.support.workers import running_workers
from workflows.statuses import RunStatus

pytestmark = pytest.mark.asyncio(loop_scope="session")
BUCKET = "shipway-artifacts"


@pytest.fixture(scope="module")
def s3_endpoint():
    """A moto S3 server on a free loopback port with the artifact bucket; its URL."""
    with moto_bucket(BUCKET) as url:
        yield url


@pytest.fixture
def s3_env(s3_endpoint, settings_env, monkeypatch):
    """Settings whose artifact store is the moto bucket."""
    for key, value in {"SHIPWAY_ARTIFACT_STORE": f"s3://{BUCKET}/artifacts", "SHIPWAY_S3_ENDPOINT_URL": s3_endpoint,
                       "SHIPWAY_S3_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


async def test_s3_store_is_content_addressed_and_immutable(s3_env):
    store = store_from_settings(s3_env)
    assert isinstance(store, S3ArtifactStore) and store.location == f"s3://{BUCKET}/artifacts"
    data = b"artifact bytes"
    sha = store.put(data, "artifact")
    assert sha == sha256_hex(data) and store.exists(sha) and store.get(sha) == data
    assert store.put(data, "artifact") == sha  # the same hash twice: a no-op
    listed = store.client.list_objects_v2(Bucket=BUCKET, Prefix="artifacts/")["Contents"]
    assert [o["Key"] for o in listed] == [f"artifacts/{sha}"]
    with pytest.raises(ArtifactNotFound):
        store.get("0" * 64)
    assert not store.exists("0" * 64)


async def test_a_version_builds_into_and_runs_from_the_s3_store(s3_env, temporal_env, tmp_path):
    from shipway.db.engine import Database

    async with running_workers(temporal_env.client) as client, Database.from_settings(pool_size=2) as db:
        name, version = await deploy(client, db, counting_spec())
        sha = (await db.read(queries.agent_version, name, version)).artifact_sha256
        assert store_from_settings(s3_env).exists(sha)
        assert await db.read(queries.agent_version, name, version) is not None
        _, result = await control.start_run(client, name, version, {"log_path": str(tmp_path / "log")}, wait=True)
    assert result.status == RunStatus.SUCCEEDED and result.output["visited"] == ["a", "b", "c"]
