"""The LangGraph Platform API's half of the gateway fuzzing (``test_api_fuzz.py`` has the method and
Shipway's half): a file of its own, so ``make test``'s two processes run the halves side by side."""

from __future__ import annotations

import pytest

from tests.integration.test_api_fuzz import fuzz_routes, shipway_route

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session"),
              pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")]


async def test_no_platform_endpoint_answers_5xx_to_fuzzed_requests(settings_env, worker, db, tmp_path, no_local_constants):
    """Every LangGraph Platform API operation passes :func:`~tests.integration.test_api_fuzz.fuzz_routes`."""
    await fuzz_routes(lambda path: not shipway_route(path), worker, db, tmp_path)
