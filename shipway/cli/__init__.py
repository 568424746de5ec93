"""The ``shipway`` command line (Typer). Each concern registers its commands from its own module."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(help="Shipway: governed LangGraph agents on Temporal.", no_args_is_help=True)

# Modules that add commands to `app`; each defines `register(app)`.
_COMMAND_MODULES = ("shipway.cli.stack", "shipway.cli.services", "shipway.cli.agents", "shipway.cli.runs", "shipway.cli.demo")

for _name in _COMMAND_MODULES:
    try:
        _module = importlib.import_module(_name)
    except ModuleNotFoundError as exc:
        if exc.name != _name:
            raise
        continue
    _module.register(app)
