"""The CLI fails loudly when one of its command modules cannot be imported."""

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
