"""``shipway worker | gateway | console``: the long-running processes (``shipway up`` starts them)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer

from shipway.cli.common import exit_now, run_async
from shipway.settings import AGENTS_TASK_QUEUE, CONTROL_TASK_QUEUE, get_settings


def worker(queue: list[str] = typer.Option([CONTROL_TASK_QUEUE, AGENTS_TASK_QUEUE], help="Task queue(s) to poll; repeat the option."),
           agent_processes: int = typer.Option(None, min=0, max=32, help="Extra processes polling shipway-agents, children of "
                                               "this one (default SHIPWAY_AGENT_WORKER_PROCESSES, else one per core beyond the first, at most 3).")) -> None:
    """Run a Temporal worker for Shipway's workflows and activities until interrupted, with extra
    processes for agent runs (:mod:`shipway.stack.agent_workers`) when it polls ``shipway-agents``."""
    from shipway.stack.agent_workers import default_agent_processes, start_agent_workers, stop_agent_workers
    from shipway.stack.local import shipway_command
    from shipway.temporal import connect, prometheus_runtime
    from shipway.worker import build_workers

    async def main() -> None:
        s = get_settings()
        # the SDK's own metrics (its runtime's Prometheus endpoint), when a port is configured
        client = await connect(runtime=prometheus_runtime(s.temporal_metrics_port, s.metrics_host) if s.temporal_metrics_port else None)
        typer.echo(f"[worker] polling {', '.join(queue)} on {s.resolved_temporal_address()}")
        await build_workers(client, queue).run()

    extra = agent_processes if agent_processes is not None else get_settings().agent_worker_processes
    extra = default_agent_processes() if extra is None else extra
    children = start_agent_workers(shipway_command(), extra) if AGENTS_TASK_QUEUE in queue else []
    try:
        run_async(main())
    except KeyboardInterrupt:
        pass
    finally:
        stop_agent_workers(children)
    exit_now(0)


def gateway(host: str = typer.Option(None, help="Bind address (default from settings)."),
            port: int = typer.Option(None, help="Port (default from settings).")) -> None:
    """Serve the HTTP gateway (FastAPI on uvicorn)."""
    import uvicorn

    from shipway.gateway.app import create_app

    s = get_settings()
    uvicorn.run(create_app(), host=host or s.gateway_host, port=port or s.gateway_port, log_level="warning")
    exit_now(0)


def console(port: int = typer.Option(None, help="Port (default from settings)."),
            host: str = typer.Option(None, help="Address to bind (default SHIPWAY_CONSOLE_HOST, 127.0.0.1).")) -> None:
    """Serve the Streamlit operator console."""
    import importlib.util

    app = Path(importlib.util.find_spec("console.app").origin)
    s = get_settings()
    code = subprocess.call([sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port or s.console_port),
                            "--server.headless", "true", "--server.address", host or s.console_host, "--browser.gatherUsageStats", "false"])
    exit_now(code)


def register(app: typer.Typer) -> None:
    """Add the service commands to the CLI."""
    app.command()(worker)
    app.command()(gateway)
    app.command()(console)
