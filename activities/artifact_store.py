"""The content-addressed artifact store: bytes by SHA-256, immutable (the only writer of ``artifacts``).

Two backends behind one interface: PostgreSQL (default; every machine that shares the database
shares the store) and S3 (``SHIPWAY_ARTIFACT_STORE=s3://bucket/prefix``, through boto3). Writing a
hash that is already stored is a no-op; reading verifies nothing (callers that execute code verify
the hash themselves, :func:`activities.artifact_format.verify`), so a tampered object is caught by
whoever uses it.

Besides version artifacts the store holds project sources: the archive of a LangGraph project a
user submits, by its own hash, which the build step reads.
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import urlparse

import psycopg

from activities.artifact_format import sha256_hex
from shipway.settings import Settings


class ArtifactNotFound(LookupError):
    """No object is stored under that SHA-256."""


class ArtifactStore(Protocol):
    """What every backend does. Objects are bytes keyed by their SHA-256 (64 hex digits)."""

    def put(self, data: bytes, kind: str) -> str:
        """Store ``data`` (``kind``: ``artifact`` or ``source``); returns its SHA-256. Idempotent."""

    def get(self, sha256: str) -> bytes:
        """The bytes stored under ``sha256``.

        Raises:
            ArtifactNotFound: nothing is stored under it.
        """

    def exists(self, sha256: str) -> bool:
        """Whether anything is stored under ``sha256``."""

    @property
    def location(self) -> str:
        """Where objects live, for messages (``postgresql``, ``s3://bucket/prefix``)."""


class PostgresArtifactStore:
    """Objects in the ``artifacts`` table (``bytea``), on the catalog database."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    @property
    def location(self) -> str:
        return "postgresql"

    def put(self, data: bytes, kind: str) -> str:
        sha = sha256_hex(data)
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute("INSERT INTO artifacts (sha256, kind, size_bytes, data, created_at) VALUES (%s, %s, %s, %s, now()) "
                         "ON CONFLICT (sha256) DO NOTHING", (sha, kind, len(data), data))
        return sha

    def get(self, sha256: str) -> bytes:
        with psycopg.connect(self.database_url) as conn:
            row = conn.execute("SELECT data FROM artifacts WHERE sha256 = %s", (sha256,)).fetchone()
        if row is None:
            raise ArtifactNotFound(f"no artifact {sha256} in {self.location}")
        return bytes(row[0])

    def exists(self, sha256: str) -> bool:
        with psycopg.connect(self.database_url) as conn:
            return conn.execute("SELECT 1 FROM artifacts WHERE sha256 = %s", (sha256,)).fetchone() is not None


class S3ArtifactStore:
    """Objects ``<prefix>/<sha256>`` in an S3 bucket (or an S3-compatible endpoint)."""

    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str | None = None, region: str | None = None) -> None:
        import boto3

        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.client = boto3.client("s3", endpoint_url=endpoint_url, region_name=region)

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def _key(self, sha256: str) -> str:
        return f"{self.prefix}/{sha256}" if self.prefix else sha256

    def put(self, data: bytes, kind: str) -> str:
        sha = sha256_hex(data)
        if not self.exists(sha):
            self.client.put_object(Bucket=self.bucket, Key=self._key(sha), Body=data, Metadata={"kind": kind, "sha256": sha})
        return sha

    def get(self, sha256: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(sha256))["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ArtifactNotFound(f"no artifact {sha256} in {self.location}") from exc
            raise

    def exists(self, sha256: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(sha256))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return False
            raise


def store_from_settings(settings: Settings) -> ArtifactStore:
    """The store ``SHIPWAY_ARTIFACT_STORE`` names: ``postgres`` (default) or ``s3://bucket/prefix``.

    Raises:
        ValueError: any other value.
    """
    where = settings.artifact_store.strip()
    if where in ("", "postgres", "postgresql"):
        return PostgresArtifactStore(settings.resolved_database_url())
    url = urlparse(where)
    if url.scheme == "s3" and url.netloc:
        return S3ArtifactStore(url.netloc, url.path, endpoint_url=settings.s3_endpoint_url, region=settings.s3_region)
    raise ValueError(f"SHIPWAY_ARTIFACT_STORE must be 'postgres' or 's3://bucket/prefix', not {where!r}")
