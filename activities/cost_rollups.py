"""Cost rollups and daily budget alerts (the only writer of ``cost_rollups`` and ``budget_alerts``).

The rollups of a day range are recomputed from the source rows (``llm_usage`` joined to ``runs``), not
incremented, so a retried or repeated activity converges on the same rows. Daily budgets are then
evaluated against the live spend (``runs.cost_usd`` of runs started that UTC day, as the gateway's
hard stop counts it); crossing 80% or 100% of an agent's budget records a ``budget_alerts`` row and
the audit event ``budget.threshold_reached`` in one transaction, once per agent, day and threshold.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session
from temporalio import activity

from activities.audit_log import append_event
from shipway import queries
from shipway.db.engine import Database
from shipway.db.models import BudgetAlert, utcnow
from shipway.metrics import set_budget_used
from workflows.types import ROLLUP_COSTS, AuditRecord, BudgetAlertFired, CostRollupInput, CostRollupResult

THRESHOLDS_PCT = (80, 100)
NO_LLM_MODEL = "-"  # the rollup "model" of runs that made no LLM call
_LOCK_KEY = 0xC057_2011  # advisory lock id reserved for the rollup: one recomputation at a time

# Calls by the UTC day they were made; runs without any LLM call by the UTC day they started. The
# delete drops rows of the range that the recomputation no longer produced (now() is the transaction's
# start, the same for every row this transaction wrote).
_RECOMPUTE = text(f"""
WITH calls AS (
    SELECT (u.created_at AT TIME ZONE 'UTC')::date AS day, r.agent_name, r.version, r.tenant, u.model,
           count(DISTINCT u.run_id) AS runs, count(*) AS calls, sum(u.tokens_in) AS tokens_in,
           sum(u.tokens_out) AS tokens_out, sum(u.cost_usd) AS cost_usd
    FROM llm_usage u JOIN runs r ON r.id = u.run_id
    WHERE u.created_at >= :start AND u.created_at < :end
    GROUP BY 1, 2, 3, 4, 5
), silent AS (
    SELECT (r.started_at AT TIME ZONE 'UTC')::date AS day, r.agent_name, r.version, r.tenant, '{NO_LLM_MODEL}' AS model,
           count(*) AS runs, 0 AS calls, 0 AS tokens_in, 0 AS tokens_out, 0.0 AS cost_usd
    FROM runs r
    WHERE r.started_at >= :start AND r.started_at < :end AND NOT EXISTS (SELECT 1 FROM llm_usage u WHERE u.run_id = r.id)
    GROUP BY 1, 2, 3, 4
)
INSERT INTO cost_rollups (day, agent_name, version, tenant, model, runs, calls, tokens_in, tokens_out, cost_usd, currency, refreshed_at)
SELECT day, agent_name, version, tenant, model, runs, calls, tokens_in, tokens_out, cost_usd, 'USD', now()
FROM (SELECT * FROM calls UNION ALL SELECT * FROM silent) fresh
ON CONFLICT (day, agent_name, version, tenant, model) DO UPDATE SET
    runs = excluded.runs, calls = excluded.calls, tokens_in = excluded.tokens_in, tokens_out = excluded.tokens_out,
    cost_usd = excluded.cost_usd, currency = excluded.currency, refreshed_at = excluded.refreshed_at
""")
_DROP_STALE = text("DELETE FROM cost_rollups WHERE day >= :since AND day <= :until AND refreshed_at <> now()")


def recompute_rollups(s: Session, since: date, until: date) -> int:
    """Rewrite the rollups of UTC days ``since``..``until`` (inclusive) in the caller's transaction;
    returns the rows written."""
    s.exec(text("SELECT pg_advisory_xact_lock(:k)").bindparams(k=_LOCK_KEY))
    bounds = {"start": queries.utc_midnight(since), "end": queries.utc_midnight(until + timedelta(days=1))}
    written = s.exec(_RECOMPUTE.bindparams(**bounds)).rowcount
    s.exec(_DROP_STALE.bindparams(since=since, until=until))
    return written


class CostRollupActivities:
    """The cost-rollup activity; owns nothing but a reference to the worker's database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @activity.defn(name=ROLLUP_COSTS)
    async def rollup_costs(self, inp: CostRollupInput) -> CostRollupResult:
        """Recompute the rollups of ``inp.since``..``inp.until``, then evaluate every daily budget on
        ``inp.budget_day``: publish each agent's share spent (Prometheus gauge) and fire the alerts
        newly crossed.

        Returns:
            Rows written, budgets evaluated, alerts fired now (not those fired before).
        """
        since, until, day = (date.fromisoformat(d) for d in (inp.since, inp.until, inp.budget_day))
        async with self.db.session() as s:
            written = await s.run_sync(recompute_rollups, since, until)
            await s.commit()
        budgets = await self.db.read(queries.daily_budgets)
        spent = await self.db.read(queries.agent_spend, queries.utc_midnight(day), queries.utc_midnight(day + timedelta(days=1)))
        fired = []
        for agent, (budget, _) in sorted(budgets.items()):
            used = spent.get(agent, 0.0)
            set_budget_used(agent, used / budget)
            for pct in THRESHOLDS_PCT:
                alert = BudgetAlertFired(agent, day.isoformat(), pct, used, budget)
                if used * 100 >= budget * pct and await self._fire(alert, inp.actor):
                    fired.append(alert)
        return CostRollupResult(rollup_rows=written, budgets=len(budgets), alerts=fired)

    async def _fire(self, alert: BudgetAlertFired, actor: str) -> bool:
        """Record ``alert`` and its audit event unless it fired before; whether it fired now."""
        async with self.db.session() as s:
            inserted = (await s.exec(insert(BudgetAlert).values(
                agent_name=alert.agent_name, day=date.fromisoformat(alert.day), threshold_pct=alert.threshold_pct,
                spent_usd=alert.spent_usd, budget_usd=alert.budget_usd, created_at=utcnow(),
            ).on_conflict_do_nothing().returning(BudgetAlert.threshold_pct))).first()
            if inserted is None:
                return False
            await append_event(s, AuditRecord(actor=actor, action="budget.threshold_reached", subject=f"agent:{alert.agent_name}",
                                              detail={"pct": alert.threshold_pct, "spent_usd": alert.spent_usd,
                                                      "budget_usd": alert.budget_usd, "day": alert.day}))
            await s.commit()
        return True
