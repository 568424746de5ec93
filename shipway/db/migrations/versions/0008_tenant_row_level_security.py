"""Tenant isolation in the database: row-level security on the tables that hold a tenant's data.

Two roles, neither owning a table, so RLS applies to both (an owner or superuser would bypass it):

- ``shipway_app`` (the gateway): sees the rows of the tenant its transaction names with
  ``SET LOCAL shipway.tenant`` (``set_config(..., true)``); with no tenant set it sees nothing.
  It reads the catalog, and may only append to the audit log.
- ``shipway_platform`` (workers): sees every tenant's rows through an explicit ``USING (true)``
  policy, not by bypassing RLS.

``agents`` carry ``tenant`` (added here; NULL = a shared agent every tenant may run); its versions,
traffic weights and deployments follow the agent. ``runs`` and ``threads`` carry ``tenant``; ``guard_results`` and ``llm_usage`` belong to a run;
LangGraph's checkpoint tables belong to a thread (``threads.thread_id`` carries its tenant). The
policies of those follow the run or thread through a subquery that is itself under RLS.

Roles are cluster-wide: they are created if missing and kept on downgrade (other databases of the
cluster may use them). LangGraph's checkpoint tables are created by ``PostgresSaver.setup()``, which
``shipway.db.migrate.upgrade`` runs before Alembic so that this revision finds them; a table that
does not exist yet is skipped.

Revision ID: 0008
Revises: 0007
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: Union[str, Sequence[str], None] = "0007"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

APP, PLATFORM = "shipway_app", "shipway_platform"
TENANT = "current_setting('shipway.tenant', true)"
# table -> the row filter of shipway_app
POLICIES = {
    "agents": f"tenant IS NULL OR tenant = {TENANT}",
    "agent_versions": "agent_name IN (SELECT name FROM agents)",
    "traffic_weights": "agent_name IN (SELECT name FROM agents)",
    "deployments": "agent_name IN (SELECT name FROM agents)",
    "runs": f"tenant = {TENANT}",
    "threads": f"tenant = {TENANT}",
    "guard_results": "run_id IN (SELECT id FROM runs)",
    "llm_usage": "run_id IN (SELECT id FROM runs)",
    "checkpoints": "thread_id IN (SELECT thread_id FROM threads)",
    "checkpoint_blobs": "thread_id IN (SELECT thread_id FROM threads)",
    "checkpoint_writes": "thread_id IN (SELECT thread_id FROM threads)",
}
# what the gateway reads besides the tenant tables: the catalog it routes by and the key table
APP_READS = ("model_prices", "api_keys", "artifacts")


def _exists(table: str) -> str:
    return f"to_regclass('public.{table}') IS NOT NULL"


def upgrade() -> None:
    op.add_column("agents", sa.Column("tenant", sa.String(length=100), nullable=True))
    for role in (APP, PLATFORM):
        op.execute(f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN "
                   f"CREATE ROLE {role} NOLOGIN; END IF; END $$")
        # the migrating (login) role must be a member to connect "as" it (options=-c role=...)
        op.execute(f"GRANT {role} TO CURRENT_USER")
        op.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {PLATFORM}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {PLATFORM}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {PLATFORM}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {PLATFORM}")
    op.execute(f"GRANT SELECT ON {', '.join(APP_READS)} TO {APP}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON rate_limit_counters TO {APP}")
    # the audit log: read (to chain) and append, never change, for both roles
    op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM {PLATFORM}")
    op.execute(f"GRANT SELECT, INSERT ON audit_events TO {APP}, {PLATFORM}")
    op.execute(f"GRANT USAGE ON SEQUENCE audit_events_id_seq TO {APP}")
    for table, row_filter in POLICIES.items():
        op.execute(f"""DO $$ BEGIN IF {_exists(table)} THEN
            GRANT SELECT ON {table} TO {APP};
            GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {PLATFORM};
            ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
            DROP POLICY IF EXISTS tenant_rows ON {table};
            DROP POLICY IF EXISTS platform_rows ON {table};
            CREATE POLICY tenant_rows ON {table} TO {APP} USING ({row_filter});
            CREATE POLICY platform_rows ON {table} TO {PLATFORM} USING (true) WITH CHECK (true);
        END IF; END $$""")


def downgrade() -> None:
    for table in POLICIES:
        op.execute(f"""DO $$ BEGIN IF {_exists(table)} THEN
            DROP POLICY IF EXISTS tenant_rows ON {table};
            DROP POLICY IF EXISTS platform_rows ON {table};
            ALTER TABLE {table} DISABLE ROW LEVEL SECURITY;
        END IF; END $$""")
    for role in (APP, PLATFORM):
        op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {role}")
        op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM {role}")
        op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}")
        op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}")
        op.execute(f"REVOKE USAGE ON SCHEMA public FROM {role}")
    op.drop_column("agents", "tenant")  # after its policy, which reads it
