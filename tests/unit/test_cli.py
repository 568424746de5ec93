"""The CLI fails loudly when one of its command modules cannot be imported, and its start does not
load the Temporal SDK or LangGraph (about half a second of imports) before a command needs them."""

from __future__ import annotations

import subprocess
import sys


def _cli(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_every_command_group_is_registered():
    out = _cli("from shipway.cli import app; app(['--help'])")
    for command in ("up", "down", "status", "migrate", "worker", "gateway", "console", "agent", "run", "guard", "audit", "demo"):
        assert f" {command} " in out.stdout, command


def test_a_command_module_that_fails_to_import_stops_the_cli():
    """Before: a ModuleNotFoundError for the module itself was swallowed and its commands vanished."""
    out = _cli("import sys; sys.modules['shipway.cli.demo'] = None\nfrom shipway.cli import app; app(['--help'])")
    assert out.returncode != 0
    assert "shipway.cli.demo" in out.stderr and "ModuleNotFoundError" in out.stderr


def test_the_cli_starts_without_the_temporal_sdk_or_langgraph():
    """Before: every command, ``--help`` included, imported both (0.93 s to 0.44 s for ``shipway --help``)."""
    out = _cli("import sys\nfrom shipway.cli import app\n"
               "print(sorted({m.split('.')[0] for m in sys.modules} & {'temporalio', 'langgraph', 'langchain_core'}))")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
