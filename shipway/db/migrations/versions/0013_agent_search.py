"""Agent search: description embeddings and full-text vectors on agents, HNSW and GIN indexes.

Search ranks agents, not versions (the description is the agent's), so ``agents`` gets:

- ``embedding vector(384)``: the description's embedding (written by the index step), with an HNSW
  index (cosine; m=16, ef_construction=128, measured with bench/search.py over 100,000 agents: recall@10
  0.955 at hnsw.ef_search=64, where ef_construction=64 gave 0.948 and m=32 cost more per query);
- ``search_tsv``: a stored generated ``tsvector`` of name (weight A), description (B) and template
  (C), English stemming, with a GIN index;
- ``status``: its live version's status, else its newest version's, kept by the catalog (the one
  writer of ``agents``) so that a status filter reads one table, under row-level security too.

Existing agents are backfilled from their versions: the newest version's embedding (nothing is
re-embedded) and the status by the rule above. Grants and row-level security of ``agents`` (0008)
cover the new columns.

Revision ID: 0013
Revises: 0012
"""
from typing import Sequence, Union

import pgvector.sqlalchemy
import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: Union[str, Sequence[str], None] = "0012"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

VERSION_STATUSES = ("submitted", "validating", "guarding", "scaffolding", "scaffolded", "indexing", "awaiting_approval",
                    "deploying", "live", "superseded", "rejected", "expired", "rolled_back", "failed")
SEARCH_TSV = ("setweight(to_tsvector('english'::regconfig, coalesce(name, '')), 'A') || "
              "setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'B') || "
              "setweight(to_tsvector('english'::regconfig, coalesce(template, '')), 'C')")
BACKFILL = """
UPDATE agents a SET
  embedding = (SELECT v.embedding FROM agent_versions v WHERE v.agent_name = a.name AND v.embedding IS NOT NULL
               ORDER BY v.version DESC LIMIT 1),
  status = coalesce((SELECT v.status FROM agent_versions v WHERE v.agent_name = a.name AND v.version = a.live_version),
                    (SELECT v.status FROM agent_versions v WHERE v.agent_name = a.name ORDER BY v.version DESC LIMIT 1),
                    a.status)
"""


def upgrade() -> None:
    op.add_column("agents", sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=True, server_default="submitted"))
    op.add_column("agents", sa.Column("embedding", pgvector.sqlalchemy.Vector(dim=384), nullable=True))
    op.add_column("agents", sa.Column("search_tsv", postgresql.TSVECTOR(), sa.Computed(SEARCH_TSV, persisted=True), nullable=True))
    # before the index: one bulk build is faster than inserting every backfilled vector into the graph
    op.execute(BACKFILL)
    op.alter_column("agents", "status", nullable=False)
    op.create_check_constraint("ck_agents_status", "agents", "status IN (" + ", ".join(f"'{s}'" for s in VERSION_STATUSES) + ")")
    op.create_index("ix_agents_embedding_hnsw", "agents", ["embedding"], postgresql_using="hnsw",
                    postgresql_with={"m": 16, "ef_construction": 128}, postgresql_ops={"embedding": "vector_cosine_ops"})
    op.create_index("ix_agents_search_tsv", "agents", ["search_tsv"], postgresql_using="gin")


def downgrade() -> None:
    op.drop_index("ix_agents_search_tsv", table_name="agents")
    op.drop_index("ix_agents_embedding_hnsw", table_name="agents")
    op.drop_constraint("ck_agents_status", "agents", type_="check")
    op.drop_column("agents", "search_tsv")
    op.drop_column("agents", "embedding")
    op.drop_column("agents", "status")
