"""``shipway deploy progress|promote|pause|resume|abort``: follow and steer a version's rollout
(``DeploymentWorkflow`` ``deploy:{name}:v{n}``). Each signal names who sent it, for the audit log."""

from __future__ import annotations

import typer

from shipway.cli.common import exit_now, run_async

deploy_app = typer.Typer(help="Rollouts: show progress and analyses; promote, pause, resume or abort.", no_args_is_help=True)


@deploy_app.command("progress")
def progress(name: str, version: int) -> None:
    """State, step, weight and each canary analysis with its metrics against their thresholds."""
    from shipway import control
    from shipway.settings import get_settings
    from shipway.temporal import connect
    from workflows.types import deployment_workflow_id

    async def main():
        return await control.deployment_progress(await connect(), name, version)

    p = run_async(main())
    typer.echo(f"{name} v{version}: {p.state} ({p.strategy}), step {p.step_index + 1 if p.step_index < p.steps_total else p.steps_total}"
               f" of {p.steps_total}, {p.weight_pct:g}% of traffic; {p.detail}".rstrip("; "))
    typer.echo(f"  workflow: {get_settings().workflow_url(deployment_workflow_id(name, version))}")
    for i, a in enumerate(p.analyses, 1):
        typer.echo(f"  analysis {i}: {a.verdict} (canary {a.canary.finished} finished, {a.canary.runs} ended)")
        for m in a.metrics:
            typer.echo(f"    {m.metric:<15} {m.verdict:<12} canary {_fmt(m.canary)}  stable {_fmt(m.baseline)}  threshold {m.threshold}")
    exit_now(0)


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4g}"


def _signal(action: str, name: str, version: int, as_user: str | None) -> None:
    from shipway import control
    from shipway.settings import get_settings
    from shipway.temporal import connect

    actor = as_user or get_settings().operator

    async def main() -> int:
        try:
            await control.signal_deployment(await connect(), name, version, action, actor)
        except control.ActionRefused as exc:
            typer.echo(f"refused: {exc.reason}", err=True)
            return 1
        typer.echo(f"sent {action} to the rollout of {name} v{version} as {actor}")
        return 0

    exit_now(run_async(main()))


_AS = typer.Option(None, "--as", help="Who sends it, for the audit log (default: SHIPWAY_OPERATOR).")


@deploy_app.command("promote")
def promote(name: str, version: int, as_user: str = _AS) -> None:
    """Go to 100 %: skip the remaining bakes and re-analyses (a breach still rolls back)."""
    _signal("promote", name, version, as_user)


@deploy_app.command("pause")
def pause(name: str, version: int, as_user: str = _AS) -> None:
    """Hold before the next step."""
    _signal("pause", name, version, as_user)


@deploy_app.command("resume")
def resume(name: str, version: int, as_user: str = _AS) -> None:
    """Continue after a pause."""
    _signal("resume", name, version, as_user)


@deploy_app.command("abort")
def abort(name: str, version: int, as_user: str = _AS) -> None:
    """Roll back to the stable version."""
    _signal("abort", name, version, as_user)


def register(app: typer.Typer) -> None:
    """Add ``shipway deploy ...``."""
    app.add_typer(deploy_app, name="deploy")
