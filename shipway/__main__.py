"""``python -m shipway`` = the ``shipway`` command."""

from shipway.cli import app

app()
