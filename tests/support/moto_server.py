"""moto in server mode: a real HTTP endpoint on a free loopback port for boto3 (the AWS stand-in of
the aws target's, the artifact store's, the backups' and the RDS activities' tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import boto3
from moto.server import ThreadedMotoServer

from shipway.stack.ports import free_port

REGION = "us-east-1"


@contextmanager
def moto_server() -> Iterator[dict]:
    """A moto server on a free loopback port, stopped on exit; yields the boto3 client keyword
    arguments for it (endpoint, region, test credentials)."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        yield {"endpoint_url": f"http://127.0.0.1:{port}", "region_name": REGION, "aws_access_key_id": "test",
               "aws_secret_access_key": "test"}
    finally:
        server.stop()


@contextmanager
def moto_bucket(bucket: str) -> Iterator[str]:
    """A moto S3 server with ``bucket`` created; yields its endpoint URL."""
    with moto_server() as kw:
        boto3.client("s3", **kw).create_bucket(Bucket=bucket)
        yield kw["endpoint_url"]
