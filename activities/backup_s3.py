"""Base backups and archived WAL in S3 (``SHIPWAY_BACKUP_S3_URL=s3://bucket/prefix``), through boto3.

Keys under the prefix mirror the local layout (:mod:`activities.backup_catalog`)::

    base/<backup_id>/pgdata.tar.gz         the backup's data directory, one gzip'd tar
    base/<backup_id>/temporal.sqlite       when the backup has one
    base/<backup_id>/shipway_backup.json   uploaded last: a backup is listed only once it is whole
    wal/<segment>.gz                       archived WAL, as compressed locally

Everything here is blocking (boto3): callers run it in a thread.
"""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path
from urllib.parse import urlparse

from activities.backup_catalog import BASE_DIR, CATALOG_FILE, PGDATA_DIR, TEMPORAL_FILE, WAL_DIR, BackupRecord

PGDATA_ARCHIVE = "pgdata.tar.gz"
_PAGE = 1000


def parse_s3_url(url: str) -> tuple[str, str]:
    """``(bucket, prefix)`` of ``s3://bucket/prefix`` (prefix without slashes at either end).

    Raises:
        ValueError: not an ``s3://bucket[/prefix]`` URL.
    """
    parts = urlparse(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"SHIPWAY_BACKUP_S3_URL must be s3://bucket/prefix, not {url!r}")
    return parts.netloc, parts.path.strip("/")


class BackupBucket:
    """The backups and WAL under one ``s3://bucket/prefix``.

    Args:
        url: ``s3://bucket/prefix``.
        client: a boto3 S3 client (endpoint, region and credentials already chosen).
    """

    def __init__(self, url: str, client) -> None:
        self.bucket, self.prefix = parse_s3_url(url)
        self.client = client

    def _key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def url_of(self, backup_id: str) -> str:
        """``s3://`` URL of a backup's folder."""
        return f"s3://{self.bucket}/{self._key(BASE_DIR, backup_id)}"

    def _keys(self, *parts: str) -> list[tuple[str, int]]:
        """``(key, size)`` of every object under a folder."""
        found, token = [], None
        while True:
            kw = {"Bucket": self.bucket, "Prefix": self._key(*parts) + "/", "MaxKeys": _PAGE}
            if token:
                kw["ContinuationToken"] = token
            page = self.client.list_objects_v2(**kw)
            found += [(o["Key"], o["Size"]) for o in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                return found
            token = page["NextContinuationToken"]

    # -- base backups ---------------------------------------------------------------------------
    def upload_backup(self, folder: Path, record: BackupRecord) -> str:
        """Upload the backup in ``folder`` (its data directory as one tar, its SQLite copy, then
        ``record`` as its catalog entry); returns its ``s3://`` URL."""
        with tempfile.TemporaryDirectory(prefix=".upload-", dir=folder.parent) as tmp:
            archive = Path(tmp) / PGDATA_ARCHIVE
            with tarfile.open(archive, "w:gz", compresslevel=1) as tar:  # level 1: the network, not the CPU, is slow
                tar.add(folder / PGDATA_DIR, arcname=PGDATA_DIR)
            self.client.upload_file(str(archive), self.bucket, self._key(BASE_DIR, record.id, PGDATA_ARCHIVE))
        if (folder / TEMPORAL_FILE).exists():
            self.client.upload_file(str(folder / TEMPORAL_FILE), self.bucket, self._key(BASE_DIR, record.id, TEMPORAL_FILE))
        self.client.put_object(Bucket=self.bucket, Key=self._key(BASE_DIR, record.id, CATALOG_FILE), Body=record.to_json().encode())
        return self.url_of(record.id)

    def records(self) -> dict[str, BackupRecord]:
        """Every whole backup in the bucket, by id."""
        out = {}
        for key, _ in self._keys(BASE_DIR):
            if key.endswith("/" + CATALOG_FILE):
                record = BackupRecord.from_json(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())
                out[record.id] = record
        return out

    def download_backup(self, backup_id: str, folder: Path) -> None:
        """Fetch a backup into ``folder`` (the local layout), its catalog entry last.

        Raises:
            FileExistsError: ``folder`` already exists.
        """
        folder.mkdir(parents=True)
        archive = folder / PGDATA_ARCHIVE
        self.client.download_file(self.bucket, self._key(BASE_DIR, backup_id, PGDATA_ARCHIVE), str(archive))
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(folder, filter="data")
        archive.unlink()
        keys = {key.rsplit("/", 1)[-1] for key, _ in self._keys(BASE_DIR, backup_id)}
        if TEMPORAL_FILE in keys:
            self.client.download_file(self.bucket, self._key(BASE_DIR, backup_id, TEMPORAL_FILE), str(folder / TEMPORAL_FILE))
        self.client.download_file(self.bucket, self._key(BASE_DIR, backup_id, CATALOG_FILE), str(folder / CATALOG_FILE))

    def delete_backup(self, backup_id: str) -> None:
        """Delete every object of a backup, its catalog entry first (so it stops being listed at once)."""
        keys = sorted((key for key, _ in self._keys(BASE_DIR, backup_id)), key=lambda k: not k.endswith(CATALOG_FILE))
        for key in keys:
            self.client.delete_object(Bucket=self.bucket, Key=key)

    # -- WAL ------------------------------------------------------------------------------------
    def wal_files(self) -> dict[str, int]:
        """Archived WAL in the bucket: file name -> bytes."""
        return {key.rsplit("/", 1)[-1]: size for key, size in self._keys(WAL_DIR)}

    def upload_wal(self, path: Path) -> None:
        """Upload one archived WAL file under its own name."""
        self.client.upload_file(str(path), self.bucket, self._key(WAL_DIR, path.name))

    def download_wal(self, name: str, wal_dir: Path) -> None:
        """Fetch one archived WAL file into ``wal_dir`` (via a temporary name: never a partial file)."""
        tmp = wal_dir / f"{name}.tmp"
        self.client.download_file(self.bucket, self._key(WAL_DIR, name), str(tmp))
        tmp.replace(wal_dir / name)

    def delete_wal(self, names: list[str]) -> None:
        """Delete archived WAL files by name (1,000 per request)."""
        for i in range(0, len(names), _PAGE):
            batch = [{"Key": self._key(WAL_DIR, n)} for n in names[i:i + _PAGE]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})


def bucket_from_settings(settings) -> BackupBucket | None:
    """The bucket ``SHIPWAY_BACKUP_S3_URL`` names (client on ``SHIPWAY_S3_ENDPOINT_URL`` and
    ``SHIPWAY_S3_REGION``; credentials as boto3 finds them), or None when it is unset.

    Raises:
        ValueError: the URL is not ``s3://bucket/prefix``.
    """
    if not settings.backup_s3_url:
        return None
    import boto3

    parse_s3_url(settings.backup_s3_url)
    return BackupBucket(settings.backup_s3_url, boto3.client("s3", endpoint_url=settings.s3_endpoint_url,
                                                             region_name=settings.s3_region))
