"""What the runbooks' diagnostics and remediations need of the workers' role ``shipway_platform``.

- ``pg_read_all_stats``: without it a role sees other sessions' rows of ``pg_stat_activity`` with
  ``state``, ``backend_type``, ``xact_start`` NULL and ``query`` ``<insufficient privilege>`` (their
  ``usename`` is the login role, not ``shipway_platform``), so Connection-pool exhaustion could not
  tell a client backend idle in a transaction from anything else.
- ``pg_signal_backend``: lets Connection-pool exhaustion terminate other roles' backends. The login
  role, a member of ``shipway_platform`` (0008), inherits both. PostgreSQL still lets only a superuser
  terminate a superuser's backend, whatever the grants.

Nothing is granted for rebuilding the search indexes: ``CREATE INDEX`` needs the table's owner, and
``CREATE``/``REINDEX INDEX CONCURRENTLY`` refuse to run inside a function, so a SECURITY DEFINER
function owned by the tables' owner cannot do it. The rebuild runs as the login role, which ran these
migrations and owns the tables, as ``shipway db upgrade`` does (activities/search_health.py). Making
``shipway_platform`` an owner was not an option: an owner bypasses the row-level security of 0008.

Role memberships are cluster-wide: another Shipway database on the same server (a second
environment, the tests' fresh databases) relies on them too, so the downgrade leaves them, as 0008
leaves its roles.

Revision ID: 0017
Revises: 0016
"""
from typing import Sequence, Union

from alembic import op

revision: str = "0017"
down_revision: Union[str, Sequence[str], None] = "0016"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

PLATFORM = "shipway_platform"
GRANTED = "pg_read_all_stats, pg_signal_backend"


def upgrade() -> None:
    op.execute(f"GRANT {GRANTED} TO {PLATFORM}")


def downgrade() -> None:
    pass  # cluster-wide memberships stay (see the module doc)
