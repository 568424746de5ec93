"""Cost governance: model prices with effective dates, currency and source; cost rollups; daily budget alerts.

- ``model_prices`` gains ``effective_from`` / ``effective_to`` (inclusive days; NULL = open), ``currency``
  (ISO 4217 code), ``source`` and ``source_date`` (where and when the price was read; NULL for rows written
  before this revision), ``updated_by`` and ``updated_at``. Its key becomes (model, effective_from), and an
  exclusion constraint (``btree_gist``) refuses two prices of one model whose date ranges overlap. Rows
  written before this revision take effect from :data:`EARLY` and stay open.
- ``cost_rollups``: cost per UTC day, agent, version, tenant and model, written by the cost-rollup
  schedule. Tenant data: the gateway's role sees its tenant's rows, the workers' role every row.
- ``budget_alerts``: one row per agent, UTC day and threshold (80 or 100 percent of the daily budget)
  crossed; an agent's alerts follow the agent's visibility, as its versions do (0008).
- ``shipway_agent_spend_since(agent, since)``: an agent's spend across all tenants, for the gateway's
  daily-budget hard stop (see the function's comment).
- Indexes for the two range scans this adds: runs by agent and start time, LLM calls by time.

Revision ID: 0011
Revises: 0010
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: Union[str, Sequence[str], None] = "0010"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

APP, PLATFORM = "shipway_app", "shipway_platform"
TENANT = "current_setting('shipway.tenant', true)"
EARLY = "2000-01-01"  # effective_from of the prices that existed before effective dates did
POLICIES = {"cost_rollups": f"tenant = {TENANT}", "budget_alerts": "agent_name IN (SELECT name FROM agents)"}
SPEND_FUNCTION = "shipway_agent_spend_since(text, timestamptz)"


def upgrade() -> None:
    # a trusted extension since PostgreSQL 13: the database owner may create it, no superuser needed
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.add_column("model_prices", sa.Column("effective_from", sa.Date(), nullable=False, server_default=sa.text(f"DATE '{EARLY}'")))
    op.alter_column("model_prices", "effective_from", server_default=None)
    op.add_column("model_prices", sa.Column("effective_to", sa.Date(), nullable=True))
    op.add_column("model_prices", sa.Column("currency", sa.String(length=3), nullable=False, server_default="USD"))
    op.add_column("model_prices", sa.Column("source", sa.String(), nullable=True))
    op.add_column("model_prices", sa.Column("source_date", sa.Date(), nullable=True))
    op.add_column("model_prices", sa.Column("updated_by", sa.String(), nullable=False, server_default="migration 0011"))
    op.alter_column("model_prices", "updated_by", server_default=None)
    op.add_column("model_prices", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()))
    op.alter_column("model_prices", "updated_at", server_default=None)
    op.drop_constraint("model_prices_pkey", "model_prices", type_="primary")
    op.create_primary_key("model_prices_pkey", "model_prices", ["model", "effective_from"])
    op.create_check_constraint("ck_model_prices_currency", "model_prices", "currency ~ '^[A-Z]{3}$'")
    op.create_check_constraint("ck_model_prices_range", "model_prices", "effective_to IS NULL OR effective_to >= effective_from")
    op.execute("ALTER TABLE model_prices ADD CONSTRAINT ex_model_prices_no_overlap "
               "EXCLUDE USING gist (model WITH =, daterange(effective_from, effective_to, '[]') WITH &&)")

    op.create_table(
        "cost_rollups",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("agent_name", sa.String(), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("tenant", sa.String(), primary_key=True),
        sa.Column("model", sa.String(), primary_key=True),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("tokens_in", sa.BigInteger(), nullable=False),
        sa.Column("tokens_out", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False, server_default="USD"),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_cost_rollups_agent_name_day", "cost_rollups", ["agent_name", "day"])
    op.create_table(
        "budget_alerts",
        sa.Column("agent_name", sa.String(), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("threshold_pct", sa.Integer(), primary_key=True),
        sa.Column("spent_usd", sa.Float(), nullable=False),
        sa.Column("budget_usd", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("threshold_pct IN (80, 100)", name="ck_budget_alerts_threshold_pct"),
    )
    for table, row_filter in POLICIES.items():
        op.execute(f"GRANT SELECT ON {table} TO {APP}")
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {PLATFORM}")
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_rows ON {table} TO {APP} USING ({row_filter})")
        op.execute(f"CREATE POLICY platform_rows ON {table} TO {PLATFORM} USING (true) WITH CHECK (true)")

    op.create_index("ix_runs_agent_name_started_at", "runs", ["agent_name", "started_at"])
    op.create_index("ix_llm_usage_created_at", "llm_usage", ["created_at"])
    # The daily budget is the agent's, whichever tenants ran it, but the gateway's role sees only its
    # own tenant's runs (0008). This function runs as its owner (the migrating role, which owns the
    # tables and so is not subject to their row-level security) and returns only a sum, never rows;
    # it answers 0 for an agent the caller's tenant may not see, so it cannot probe private agents.
    op.execute(f"""CREATE FUNCTION shipway_agent_spend_since(p_agent text, p_since timestamptz)
        RETURNS double precision LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
            SELECT coalesce(sum(r.cost_usd), 0)::double precision FROM runs r
            WHERE r.agent_name = p_agent AND r.started_at >= p_since
              AND EXISTS (SELECT 1 FROM agents a WHERE a.name = p_agent AND (a.tenant IS NULL OR a.tenant = {TENANT}))
        $$""")
    op.execute(f"REVOKE ALL ON FUNCTION {SPEND_FUNCTION} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {SPEND_FUNCTION} TO {APP}")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {SPEND_FUNCTION}")
    op.drop_index("ix_llm_usage_created_at", "llm_usage")
    op.drop_index("ix_runs_agent_name_started_at", "runs")
    op.drop_table("budget_alerts")
    op.drop_table("cost_rollups")
    op.execute("ALTER TABLE model_prices DROP CONSTRAINT ex_model_prices_no_overlap")
    op.drop_constraint("ck_model_prices_range", "model_prices", type_="check")
    op.drop_constraint("ck_model_prices_currency", "model_prices", type_="check")
    # one price per model again: keep each model's newest
    op.execute("DELETE FROM model_prices p USING model_prices q WHERE q.model = p.model AND q.effective_from > p.effective_from")
    op.drop_constraint("model_prices_pkey", "model_prices", type_="primary")
    op.create_primary_key("model_prices_pkey", "model_prices", ["model"])
    for column in ("updated_at", "updated_by", "source_date", "source", "currency", "effective_to", "effective_from"):
        op.drop_column("model_prices", column)
    # btree_gist stays: other objects of the database may use it
