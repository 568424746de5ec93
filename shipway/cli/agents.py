"""``shipway agent ...``: submit specs, follow lifecycles, approve or reject, list the catalog."""

from __future__ import annotations

import asyncio
import json

import typer

from shipway.cli.common import exit_now, run_async
from shipway.settings import get_settings
from workflows.statuses import ApprovalKind

agent_app = typer.Typer(help="Agents: submit a spec, follow its lifecycle, approve or reject it.", no_args_is_help=True)


@agent_app.command("submit")
def submit(spec_path: str = typer.Argument(..., help="YAML or JSON spec file."),
           as_user: str = typer.Option(None, "--as", help="Who submits (default: the spec's owner)."),
           follow: bool = typer.Option(False, "--follow", help="Print each lifecycle step until approval or the end.")) -> None:
    """Start a new version's ``AgentLifecycleWorkflow``; prints its id and Temporal UI link."""
    from shipway import control
    from shipway.db.engine import Database
    from shipway.spec import SpecError, load_spec_file
    from shipway.temporal import connect

    async def main() -> int:
        raw = load_spec_file(spec_path)
        client = await connect()
        async with Database.from_settings(pool_size=1) as db:
            name, version, wf_id = await control.submit_agent(client, db, raw, as_user or str(raw.get("owner", "")))
        typer.echo(f"submitted {name} v{version}: workflow {wf_id}\n  {get_settings().workflow_url(wf_id)}")
        if follow:
            await _follow(client, name, version)
        return 0

    try:
        exit_now(run_async(main()))
    except SpecError as exc:
        typer.echo(f"invalid spec: {exc}", err=True)
        exit_now(2)


async def _follow(client, name: str, version: int) -> None:
    """Print each step until the version waits for approval or its lifecycle settles."""
    from shipway.control import lifecycle_status
    from workflows.statuses import LifecycleStep

    last = None
    while True:
        st = await lifecycle_status(client, name, version)
        if st.step != last:
            typer.echo(f"  [{name} v{version}] {st.step} ({st.status})")
            last = st.step
        if not st.status.in_progress or st.step == LifecycleStep.APPROVAL:
            if st.detail:
                typer.echo(f"  {st.detail}")
            return
        await asyncio.sleep(0.3)


@agent_app.command("status")
def status(name: str, version: int = typer.Argument(..., help="Version number.")) -> None:
    """Query the lifecycle workflow's ``status`` (step, status, refused decisions, artifact)."""
    from dataclasses import asdict

    from shipway.control import lifecycle_status
    from shipway.temporal import connect

    async def main() -> None:
        st = await lifecycle_status(await connect(), name, version)
        typer.echo(json.dumps(asdict(st), indent=2))

    run_async(main())
    exit_now(0)


def _decide(kind: ApprovalKind, name: str, version: int, approver: str, reason: str) -> None:
    """Send the ``decide`` update and report what the workflow answered; exit 1 on a refusal."""
    from shipway import control
    from shipway.temporal import connect

    async def main() -> int:
        try:
            await control.decide(await connect(), name, version, kind, approver, reason)
        except control.ActionRefused as exc:
            typer.echo(f"refused: {kind} of {name} v{version} by {approver!r}: {exc.reason}", err=True)
            return 1
        typer.echo(f"accepted: {kind} of {name} v{version} by {approver}")
        return 0

    exit_now(run_async(main()))


@agent_app.command("approve")
def approve(name: str, version: int, as_user: str = typer.Option(None, "--as", help="Approver (default: SHIPWAY_OPERATOR)."),
            reason: str = typer.Option(..., "--reason", help="Why (recorded in the audit log).")) -> None:
    """Approve a version awaiting approval; refused (exit 1) if you own the agent."""
    _decide(ApprovalKind.APPROVE, name, version, as_user or get_settings().operator, reason)


@agent_app.command("reject")
def reject(name: str, version: int, as_user: str = typer.Option(None, "--as", help="Approver (default: SHIPWAY_OPERATOR)."),
           reason: str = typer.Option(..., "--reason", help="Why (recorded in the audit log).")) -> None:
    """Reject a version awaiting approval (exit 1 when refused)."""
    _decide(ApprovalKind.REJECT, name, version, as_user or get_settings().operator, reason)


@agent_app.command("list")
def list_agents() -> None:
    """The catalog: each agent's versions, their status and the live version."""
    from sqlmodel import Session

    from shipway import queries
    from shipway.db.engine import sync_engine

    settings = get_settings()
    with Session(sync_engine()) as s:
        for agent in queries.agents(s):
            live = f"v{agent.live_version}" if agent.live_version else "none"
            typer.echo(f"{agent.name}  owner={agent.owner}  template={agent.template}  live={live}")
            for v in reversed(queries.versions(s, agent.name)):
                why = f"  ({v.status_detail})" if v.status_detail else ""
                typer.echo(f"  v{v.version}  {v.status:<18} sha256={(v.artifact_sha256 or '')[:12]}  "
                           f"{settings.workflow_url(v.workflow_id)}{why}")
    exit_now(0)


def register(app: typer.Typer) -> None:
    """Add ``shipway agent ...``."""
    app.add_typer(agent_app, name="agent")
