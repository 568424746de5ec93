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
def submit(path: str = typer.Argument(..., help="A spec (YAML/JSON) naming a template, or a LangGraph project: "
                                             "a folder with langgraph.json and shipway.yaml, or a .tar.gz of one."),
           graph: str = typer.Option(None, "--graph", help="The graph of langgraph.json to deploy, when it has several."),
           as_user: str = typer.Option(None, "--as", help="Who submits (default: the spec's owner)."),
           follow: bool = typer.Option(False, "--follow", help="Print each lifecycle step until approval or the end.")) -> None:
    """Start a new version's ``AgentLifecycleWorkflow``; prints its id and Temporal UI link."""
    from pathlib import Path

    from activities.artifact_store import store_from_settings
    from activities.langgraph_project import ProjectError
    from shipway import control
    from shipway.db.engine import Database
    from shipway.projects import is_project, project_spec, upload_project
    from shipway.spec import SpecError, load_spec_file
    from shipway.temporal import connect

    async def main() -> int:
        source = Path(path)
        if is_project(source):
            sha, project = upload_project(store_from_settings(get_settings()), source, graph)
            raw = project_spec(project, sha)
            typer.echo(f"project {source}: graph {project.graph_name} ({project.graph}); source archive sha256 {sha[:16]}...")
        else:
            raw = load_spec_file(path)
        client = await connect()
        async with Database.from_settings(pool_size=1) as db:
            name, version, wf_id = await control.submit_agent(client, db, raw, as_user or str(raw.get("owner", "")))
        typer.echo(f"submitted {name} v{version}: workflow {wf_id}\n  {get_settings().workflow_url(wf_id)}")
        if follow:
            await _follow(client, name, version)
        return 0

    try:
        exit_now(run_async(main()))
    except (SpecError, ProjectError) as exc:
        typer.echo(f"invalid {'project' if isinstance(exc, ProjectError) else 'spec'}: {exc}", err=True)
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
            outcome = await control.decide(await connect(), name, version, kind, approver, reason)
        except control.ActionRefused as exc:
            typer.echo(f"refused: {kind} of {name} v{version} by {approver!r}: {exc.reason}", err=True)
            return 1
        more = (f" (approval {outcome.approvals} of {outcome.required}: a second, different approver is needed)"
                if kind == ApprovalKind.APPROVE and outcome.approvals < outcome.required else "")
        typer.echo(f"accepted: {kind} of {name} v{version} by {approver}{more}")
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


@agent_app.command("diff")
def diff(name: str, old: int = typer.Argument(..., help="The older version."), new: int = typer.Argument(..., help="The newer version."),
         stat: bool = typer.Option(False, "--stat", help="Only list the changed files.")) -> None:
    """What changed from version OLD to NEW: the spec, and the artifact file by file."""
    from sqlmodel import Session

    from activities.artifact_store import store_from_settings
    from shipway import queries
    from shipway.db.engine import sync_engine
    from shipway.version_diff import diff_versions

    with Session(sync_engine()) as s:
        rows = {v: queries.agent_version(s, name, v) for v in (old, new)}
    missing = [f"v{v}" for v, row in rows.items() if row is None]
    if missing:
        typer.echo(f"{name} has no {' or '.join(missing)}", err=True)
        exit_now(1)
    store = store_from_settings(get_settings())
    data = {v: store.get(row.artifact_sha256) if row.artifact_sha256 else None for v, row in rows.items()}
    result = diff_versions(rows[old].spec, rows[new].spec, data[old], data[new], f"v{old}", f"v{new}")
    if result.unchanged:
        typer.echo(f"{name} v{old} and v{new} are the same")
        exit_now(0)
    if result.spec_diff:
        typer.echo(result.spec_diff if not stat else "spec changed")
    for change in result.files:
        typer.echo(f"{change.change:8} {change.path}{'  (' + change.note + ')' if change.note else ''}")
        if not stat and change.diff:
            typer.echo(change.diff)
    exit_now(0)


# -- agent search (issue 13) ---------------------------------------------------------------------------
@agent_app.command("search")
def search(query: str = typer.Argument(..., help="Words and meaning to look for (at most 500 characters)."),
           status: str = typer.Option(None, "--status", help="Only agents in this status (live, awaiting_approval, failed, ...)."),
           owner: str = typer.Option(None, "--owner", help="Only agents of this owner."),
           template: str = typer.Option(None, "--template", help="Only agents of this template (or project:<graph>)."),
           limit: int = typer.Option(10, "--limit", min=1, max=50, help="How many agents, 1-50."),
           as_json: bool = typer.Option(False, "--json", help="Print the gateway's JSON instead of a table.")) -> None:
    """Search the agents your key's tenant may run, through the gateway (``GET /v1/agents/search``):
    hybrid ranking of description meaning and words. Exit 1 when the gateway refuses or is unreachable."""
    import httpx

    settings = get_settings()
    url = settings.resolved_gateway_url() + "/v1/agents/search"
    params = {key: value for key, value in (("q", query), ("status", status), ("owner", owner), ("template", template),
                                            ("limit", limit)) if value is not None}
    try:
        resp = httpx.get(url, params=params, headers=settings.auth_headers(), timeout=120)
    except httpx.HTTPError as exc:
        typer.echo(f"gateway not reachable at {url}: {exc} (is `shipway up` running?)", err=True)
        exit_now(1)
    if not resp.is_success:
        typer.echo(f"search refused: HTTP {resp.status_code} {resp.text}", err=True)
        exit_now(1)
    hits = resp.json()
    if as_json:
        typer.echo(json.dumps(hits, indent=2))
        exit_now(0)
    if not hits:
        typer.echo("no agents found")
    for i, hit in enumerate(hits, start=1):
        found = " + ".join(f"{leg} #{hit[f'{leg}_rank']}" for leg in ("vector", "text") if hit[f"{leg}_rank"] is not None)
        typer.echo(f"{i:2}. {hit['name']}  score={hit['score']:.4f} ({found})  status={hit['status']}  owner={hit['owner']}  "
                   f"template={hit['template']}  tenant={hit['tenant'] or 'shared'}\n    {hit['description']}")
    exit_now(0)
# -- end agent search ---------------------------------------------------------------------------------------


def register(app: typer.Typer) -> None:
    """Add ``shipway agent ...``."""
    app.add_typer(agent_app, name="agent")
