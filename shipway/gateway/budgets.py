"""The daily budget's hard stop: once an agent whose live version's spec sets ``daily_budget_usd`` and
``daily_budget_hard_stop`` has spent its budget today (UTC), the gateway refuses new runs of it with
429, a body naming the agent, spend, budget and when the budget resets, and ``Retry-After`` (seconds
to UTC midnight). The spend is the live sum of ``runs.cost_usd`` (exact, not the rollup), across every
tenant (:func:`shipway.queries.daily_budget_state`). Runs already started are not stopped."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from shipway import queries
from shipway.auth.keys import Principal
from shipway.db.engine import Database
from shipway.gateway.auth import audit
from shipway.gateway.errors import ApiError


async def refuse_over_daily_budget(db: Database, agent: str, principal: Principal, now: datetime | None = None) -> None:
    """Return when ``agent`` may start a run now (``now``: UTC, default the clock), else refuse.

    Raises:
        ApiError: 429 with ``Retry-After`` and ``detail`` ``{agent, spent_usd, budget_usd, resets_at,
            retry_after_s}``, after the audit event ``run.refused_budget`` on ``agent:<name>``.
    """
    now = now or datetime.now(timezone.utc)
    state = await db.read(queries.daily_budget_state, agent, queries.utc_midnight(now.date()), as_tenant=principal.tenant)
    if state is None or not state.hard_stop or state.spent_usd < state.budget_usd:
        return
    resets = queries.utc_midnight(now.date() + timedelta(days=1))
    retry_after = max(1, math.ceil((resets - now).total_seconds()))
    detail = {"agent": agent, "spent_usd": state.spent_usd, "budget_usd": state.budget_usd, "resets_at": resets.isoformat(),
              "retry_after_s": retry_after}
    # each refusal is a refused business action, audited; the key's rate limit bounds how many there can be
    await audit(db, principal.actor, "run.refused_budget", f"agent:{agent}", detail)
    raise ApiError(429, f"agent {agent!r} has spent its daily budget ({state.spent_usd:.2f} of {state.budget_usd:.2f} USD "
                        f"today); new runs are refused until {resets:%Y-%m-%d %H:%M} UTC", detail,
                   headers={"Retry-After": str(retry_after)})
