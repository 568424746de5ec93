"""Agent search for a tenant-scoped role that can use the indexes: ``shipway_search_legs``.

Under row-level security PostgreSQL evaluates the tenant policy before any operator not marked
LEAKPROOF, and neither ``@@`` (full text) nor ``<=>`` (pgvector) is, so the gateway's search could use
neither the GIN nor the HNSW index: about 35 ms p95 at 100,000 agents (bench/search.py) against
about 1.5 ms as the platform role. This SECURITY DEFINER function runs both legs of
:mod:`shipway.search` as the tables' owner, which RLS does not filter, and applies the policy of
``agents`` for ``shipway_app`` itself: shared agents and those of the tenant the caller's transaction
names (``shipway.tenant``; unset: shared agents only). The caller cannot choose another tenant: the
function reads the same setting the policy reads, and takes no tenant argument. It returns only the
columns the search shows. Only ``shipway_app`` may execute it.

Revision ID: 0014
Revises: 0013
"""
from typing import Sequence, Union

from alembic import op

revision: str = "0014"
down_revision: Union[str, Sequence[str], None] = "0013"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

SIGNATURE = "shipway_search_legs(vector, text, text, text, text, integer)"
VISIBLE = ("(a.tenant IS NULL OR a.tenant = current_setting('shipway.tenant', true))"
           " AND (f_status IS NULL OR a.status = f_status) AND (f_owner IS NULL OR a.owner = f_owner)"
           " AND (f_template IS NULL OR a.template = f_template)")
COLUMNS = ("a.name::text, a.description::text, a.owner::text, a.template::text, a.tenant::text, a.status::text,"
           " a.live_version")


def upgrade() -> None:
    op.execute(f"""
CREATE FUNCTION shipway_search_legs(q_embedding vector, q_text text, f_status text, f_owner text, f_template text,
                                    n integer)
RETURNS TABLE (name text, description text, owner text, template text, tenant text, status text,
               live_version integer, leg text, rank bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_catalog AS $$
  SELECT v.name, v.description, v.owner, v.template, v.tenant, v.status, v.live_version, 'vector',
         row_number() OVER (ORDER BY v.distance, v.name)
  FROM (SELECT {COLUMNS}, a.embedding <=> q_embedding AS distance FROM agents a
        WHERE q_embedding IS NOT NULL AND a.embedding IS NOT NULL AND {VISIBLE}
        ORDER BY distance LIMIT n) v
  UNION ALL
  SELECT t.name, t.description, t.owner, t.template, t.tenant, t.status, t.live_version, 'text',
         row_number() OVER (ORDER BY t.rank_cd DESC, t.name)
  FROM (SELECT {COLUMNS}, ts_rank_cd(a.search_tsv, q) AS rank_cd
        FROM agents a, websearch_to_tsquery('english', q_text) q
        WHERE coalesce(q_text, '') <> '' AND a.search_tsv @@ q AND {VISIBLE}
        ORDER BY rank_cd DESC, a.name LIMIT n) t
$$""")
    op.execute(f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {SIGNATURE} TO shipway_app")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
