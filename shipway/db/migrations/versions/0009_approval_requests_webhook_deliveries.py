"""Approval requests (required approvers, guard findings, the Jira issue and whether Jira answers)
and webhook deliveries (every delivery, its verification and outcome; dead letters).

The gateway's role (``shipway_app``) reads approval requests to map a Jira issue to its workflow
and records deliveries; the workers' role gets both through 0008's default privileges. Neither
table holds tenant data, so neither has row-level security.

Revision ID: 0009
Revises: 0008
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: Union[str, Sequence[str], None] = "0008"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

APP = "shipway_app"
OUTCOMES = ("too_large", "unsigned", "forged", "malformed", "duplicate", "ignored", "signalled", "dead_letter")


def upgrade() -> None:
    op.create_table(
        "approval_requests",
        sa.Column("agent_name", sa.String(), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("workflow_id", sa.String(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("required_approvers", sa.Integer(), nullable=False),
        sa.Column("guard_findings", postgresql.JSONB(), nullable=False),
        sa.Column("jira_key", sa.String(), nullable=True),
        sa.Column("jira_url", sa.String(), nullable=True),
        sa.Column("jira_account_id", sa.String(), nullable=True),
        sa.Column("jira_unreachable_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("jira_error", sa.String(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_approval_requests_jira_key", "approval_requests", ["jira_key"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("identifier", sa.String(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client_address", sa.String(), nullable=False),
        sa.Column("headers", postgresql.JSONB(), nullable=False),
        sa.Column("body_bytes", sa.Integer(), nullable=False),
        sa.Column("body_sha256", sa.String(), nullable=False),
        sa.Column("body", sa.String(), nullable=True),
        sa.Column("signature_valid", sa.Boolean(), nullable=True),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("detail", sa.String(), nullable=False),
        sa.Column("event", sa.String(), nullable=True),
        sa.Column("issue_key", sa.String(), nullable=True),
        sa.Column("decision", sa.String(), nullable=True),
        sa.Column("jira_account_id", sa.String(), nullable=True),
        sa.Column("approver", sa.String(), nullable=True),
        sa.Column("workflow_id", sa.String(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("outcome IN ({})".format(", ".join(f"'{o}'" for o in OUTCOMES)), name="ck_webhook_deliveries_outcome"),
    )
    op.create_index("ix_webhook_deliveries_issue_key", "webhook_deliveries", ["issue_key"])
    op.create_index("uq_webhook_deliveries_identifier", "webhook_deliveries", ["source", "identifier"], unique=True,
                    postgresql_where=sa.text("signature_valid AND outcome <> 'duplicate' AND identifier IS NOT NULL"))
    op.create_index("ix_webhook_deliveries_dead_letters", "webhook_deliveries", ["received_at"],
                    postgresql_where=sa.text("outcome = 'dead_letter'"))
    op.execute(f"GRANT SELECT ON approval_requests TO {APP}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON webhook_deliveries TO {APP}")
    op.execute(f"GRANT USAGE ON SEQUENCE webhook_deliveries_id_seq TO {APP}")


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("approval_requests")
