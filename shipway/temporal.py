"""Connecting to Temporal (dev server, self-hosted cluster or Temporal Cloud) from settings."""

from __future__ import annotations

from temporalio.client import Client, TLSConfig
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from shipway.settings import Settings, get_settings
from shipway.stack.ports import PortInUseError
from workflows.types import SA_AGENT, SA_STEP, SA_TENANT

# Custom search attributes Shipway sets on its workflows (registered by `shipway up`).
SEARCH_ATTRIBUTES = (SA_AGENT, SA_STEP, SA_TENANT)


def prometheus_runtime(port: int, host: str = "127.0.0.1") -> Runtime:
    """A Temporal SDK runtime serving the SDK's own metrics on ``http://host:port/metrics``, named the
    Prometheus way (``_total`` counters, ``_seconds`` durations: ``temporal_request_total``,
    ``temporal_workflow_task_schedule_to_start_latency_seconds``, ...). One per process: each runtime
    has its own thread pool, and the port is bound when the runtime is created.

    Raises:
        PortInUseError: the port is taken.
    """
    try:
        return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(
            bind_address=f"{host}:{port}", counters_total_suffix=True, unit_suffix=True, durations_as_seconds=True)))
    except ValueError as exc:  # the SDK reports a failed bind as "Failed starting Prometheus exporter"
        raise PortInUseError("Temporal SDK metrics", port, host) from exc


async def connect(settings: Settings | None = None, runtime: Runtime | None = None) -> Client:
    """A Temporal client for the configured address and namespace, on ``runtime`` (default: the
    SDK's default runtime; workers pass :func:`prometheus_runtime`).

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
        runtime=runtime,
    )
