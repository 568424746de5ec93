"""The artifact store: content-addressed artifacts and project sources in PostgreSQL; each version's
manifest; the artifact every run ran.

- artifacts: sha256 (the key), kind (artifact | source), size, bytes.
- agent_versions: ``manifest`` (entry point, files, input schema, test report); ``artifact_path`` is
  gone: artifacts live in the store (PostgreSQL or S3), not on one machine's disk.
- runs: ``artifact_sha256``.

Revision ID: 0003
Revises: 0002
"""
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "artifacts",
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )
    op.add_column("agent_versions", sa.Column("manifest", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.drop_column("agent_versions", "artifact_path")
    op.add_column("runs", sa.Column("artifact_sha256", sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    op.drop_column("runs", "artifact_sha256")
    op.add_column("agent_versions", sa.Column("artifact_path", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    op.drop_column("agent_versions", "manifest")
    op.drop_table("artifacts")
