"""Connecting to Temporal (dev server, self-hosted cluster or Temporal Cloud) from settings."""

from __future__ import annotations

from temporalio.client import Client, TLSConfig

from shipway.settings import Settings, get_settings
from workflows.types import SA_AGENT, SA_STEP, SA_TENANT

# Custom search attributes Shipway sets on its workflows (registered by `shipway up`).
SEARCH_ATTRIBUTES = (SA_AGENT, SA_STEP, SA_TENANT)


async def connect(settings: Settings | None = None) -> Client:
    """A Temporal client for the configured address and namespace.

    TLS is used when an API key or a client certificate is configured (Temporal Cloud).

    Raises:
        RuntimeError: no Temporal address is configured or recorded by ``shipway up``.
        RuntimeError (from temporalio): the server cannot be reached.
    """
    s = settings or get_settings()
    tls: bool | TLSConfig = False
    if s.temporal_tls_cert and s.temporal_tls_key:
        tls = TLSConfig(client_cert=s.temporal_tls_cert.read_bytes(), client_private_key=s.temporal_tls_key.read_bytes())
    elif s.temporal_api_key:
        tls = True
    return await Client.connect(
        s.resolved_temporal_address(),
        namespace=s.temporal_namespace,
        api_key=s.temporal_api_key,
        tls=tls,
    )
