"""``shipway agent ...``: submit specs, follow lifecycles, approve or reject, list the catalog."""

from __future__ import annotations

import asyncio
import json

import typer

from shipway.cli.common import exit_now, run_async
from shipway.settings import get_settings

agent_app = typer.Typer(help="Agents: submit a spec, follow its lifecycle, approve or reject it.", no_args_is_help=True)


@agent_app.command("submit")
def submit(spec_path: str = typer.Argument(..., help="YAML or JSON spec file."),
           as_user: str = typer.Option(None, "--as", help="Who submits (default: the spec's owner)."),
           follow: bool = typer.Option(False, "--follow", help="Print each lifecycle step until approval or the end.")) -> None:
    """Start a new version's ``AgentLifecycleWorkflow``; prints its id and Temporal UI link."""
    from shipway import control
    from shipway.db.engine import async_engine
    from shipway.spec import SpecError, load_spec_file
    from shipway.temporal import connect

    async def main() -> int:
        raw = load_spec_file(spec_path)
        client = await connect()
        name, version, wf_id = await control.submit_agent(client, async_engine(), raw, as_user or str(raw.get("owner", "")))
        typer.echo(f"submitted {name} v{version}: workflow {wf_id}\n  {get_settings().workflow_url(wf_id)}")
        if follow:
            await _follow(client, name, version)
        return 0

    try:
        exit_now(run_async(main()))
    except SpecError as exc:
        typer.echo(f"invalid spec: {exc}", err=True)
        exit_now(2)


async def _follow(client, name: str, version: int, until=("approval",)) -> None:
    from shipway.control import lifecycle_handle
    from workflows.types import QUERY_STATUS, LifecycleStatus

    handle, last = lifecycle_handle(client, name, version), None
    while True:
        st = await handle.query(QUERY_STATUS, result_type=LifecycleStatus)
        if st.step != last:
            typer.echo(f"  [{name} v{version}] {st.step} ({st.state})")
            last = st.step
        if st.state != "running" or st.step in until:
            if st.detail:
                typer.echo(f"  {st.detail}")
            return
        await asyncio.sleep(0.3)


@agent_app.command("status")
def status(name: str, version: int = typer.Argument(..., help="Version number.")) -> None:
    """Query the lifecycle workflow's ``status`` (step, state, refused approvals, artifact)."""
    from dataclasses import asdict

    from shipway.control import lifecycle_handle
    from shipway.temporal import connect
    from workflows.types import QUERY_STATUS, LifecycleStatus

    async def main() -> None:
        st = await lifecycle_handle(await connect(), name, version).query(QUERY_STATUS, result_type=LifecycleStatus)
        typer.echo(json.dumps(asdict(st), indent=2))

    run_async(main())
    exit_now(0)


def _decide(kind: str, name: str, version: int, approver: str, reason: str) -> None:
    from shipway import control
    from shipway.temporal import connect

    async def main() -> None:
        await getattr(control, kind)(await connect(), name, version, approver, reason)

    run_async(main())
    typer.echo(f"sent {kind} for {name} v{version} as {approver}")
    exit_now(0)


@agent_app.command("approve")
def approve(name: str, version: int, as_user: str = typer.Option(None, "--as", help="Approver (default: SHIPWAY_OPERATOR)."),
            reason: str = typer.Option(..., "--reason", help="Why (recorded in the audit log).")) -> None:
    """Signal ``approve`` (refused by the workflow if you own the agent)."""
    _decide("approve", name, version, as_user or get_settings().operator, reason)


@agent_app.command("reject")
def reject(name: str, version: int, as_user: str = typer.Option(None, "--as", help="Approver (default: SHIPWAY_OPERATOR)."),
           reason: str = typer.Option(..., "--reason", help="Why (recorded in the audit log).")) -> None:
    """Signal ``reject``."""
    _decide("reject", name, version, as_user or get_settings().operator, reason)


@agent_app.command("list")
def list_agents() -> None:
    """The catalog: each agent's versions, their status and the live version."""
    from sqlmodel import Session, select

    from shipway.db.engine import sync_engine
    from shipway.db.models import Agent, AgentVersion

    with Session(sync_engine()) as s:
        for agent in s.exec(select(Agent).order_by(Agent.name)).all():
            typer.echo(f"{agent.name}  owner={agent.owner}  template={agent.template}  live=v{agent.live_version}")
            for v in s.exec(select(AgentVersion).where(AgentVersion.agent_name == agent.name).order_by(AgentVersion.version)).all():
                typer.echo(f"  v{v.version}  {v.status:<18} sha256={(v.artifact_sha256 or '')[:12]}  {get_settings().workflow_url(v.workflow_id)}")
    exit_now(0)


def register(app: typer.Typer) -> None:
    """Add ``shipway agent ...``."""
    app.add_typer(agent_app, name="agent")
