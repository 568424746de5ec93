"""Helpers shared by the CLI modules."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Coroutine
from typing import Any, NoReturn


def exit_now(code: int) -> NoReturn:
    """Flush and leave at once: the Temporal SDK's runtime can abort during interpreter teardown
    (exit code 134; temporalio/sdk-python#300), which must not replace our exit code."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run_async(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine from a synchronous Typer command."""
    return asyncio.run(coro)
