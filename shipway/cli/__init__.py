"""The ``shipway`` command line (Typer). Each concern registers its commands from its own module;
a module that fails to import stops the CLI with that error instead of silently losing its commands."""

from __future__ import annotations

import typer

from shipway.cli import agents, audit, checkpoint_keys, demo, deploy, guard, jobs, keys, runs, services, stack, webhooks

app = typer.Typer(help="Shipway: governed LangGraph agents on Temporal.", no_args_is_help=True)

for _module in (stack, services, agents, deploy, runs, jobs, guard, audit, keys, checkpoint_keys, webhooks, demo):
    _module.register(app)

# -- checkpoint retention: `shipway retention run` --
from shipway.cli import retention  # noqa: E402

retention.register(app)
# -- end checkpoint retention --

# -- cost governance: `shipway prices list|set`, `shipway costs rollup|show` --
from shipway.cli import costs, prices  # noqa: E402

prices.register(app)
costs.register(app)
# -- end cost governance --

# -- runbooks: `shipway runbook list|start|show|confirm|skip` --
from shipway.cli import runbooks  # noqa: E402

runbooks.register(app)
# -- end runbooks --
