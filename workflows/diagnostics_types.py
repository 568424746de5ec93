"""Contracts of the runbooks' diagnostic and remediation activities (issue 14): activity names, one
input and one result dataclass each.

Owned by ``activities/db_health.py`` (connections), ``activities/search_health.py`` (the search
index), ``activities/run_health.py`` (error rates, deployments) and ``activities/webhook_health.py``
(dead letters). Times are ISO 8601 UTC strings, durations seconds (``*_s``) or milliseconds
(``*_ms``), rates 0-1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# -- Activity names (shipway-control) -----------------------------------------------------------
INSPECT_CONNECTIONS = "inspect_connections"
TERMINATE_BACKENDS = "terminate_backends"
INSPECT_SEARCH_INDEX = "inspect_search_index"
REBUILD_SEARCH_INDEX = "rebuild_search_index"
ERROR_RATES = "error_rates"
RECENT_DEPLOYMENTS = "recent_deployments"
WEBHOOK_FAILURES = "webhook_failures"
REPLAY_DEAD_LETTERS = "replay_dead_letters"

IDLE_IN_TRANSACTION = "idle in transaction"


# -- Connection-pool exhaustion -------------------------------------------------------------------
@dataclass
class ConnectionsCheck:
    """Input of ``inspect_connections``: a backend counts as idle in a transaction once its
    transaction is ``idle_in_transaction_min_s`` old, and as long-running once its query has run
    ``long_query_min_s`` (seconds)."""

    idle_in_transaction_min_s: float = 60.0
    long_query_min_s: float = 30.0


@dataclass
class Backend:
    """One client backend of ``pg_stat_activity``: ``user`` is the login role, ``state`` its state
    (``active``, ``idle``, ``idle in transaction``, ``idle in transaction (aborted)``...), ages in
    seconds: of its transaction (None: none; an aborted one counts from when it failed, as PostgreSQL
    clears its start), of its query (None: none yet) and in its state (how long it has been idle);
    ``query`` its current or last statement (first 200 characters), ``client`` its address (None: a
    unix socket)."""

    pid: int
    user: str
    application: str
    state: str
    xact_age_s: float | None
    query_age_s: float | None
    query: str
    client: str | None
    state_age_s: float | None = None


@dataclass
class ConnectionsReport:
    """Result of ``inspect_connections``: the client backends of the current database (the
    inspecting one excluded), counted by state and by ``application_name``; ``usage`` is
    ``total / max_connections``; ``cluster_total`` counts client backends of every database (all of
    them take ``max_connections`` slots). Lists are oldest transaction / query first."""

    max_connections: int
    total: int
    by_state: dict[str, int]
    by_application: dict[str, int]
    usage: float
    idle_in_transaction: list[Backend]
    long_running: list[Backend]
    cluster_total: int = 0


@dataclass
class TerminateBackends:
    """Input of ``terminate_backends``: the pids to terminate, each only if it is still a client
    backend of this database in ``state`` (or ``<state> (aborted)``: a failed transaction not yet
    rolled back, which holds its connection all the same) with a transaction at least
    ``min_xact_age_s`` old."""

    pids: list[int]
    state: str = IDLE_IN_TRANSACTION
    min_xact_age_s: float = 0.0


@dataclass
class TerminatedBackends:
    """Result of ``terminate_backends``: pids terminated, and the others with why they were left
    (keys are pids as text)."""

    terminated: list[int]
    skipped: dict[str, str]


# -- Slow semantic search -------------------------------------------------------------------------
@dataclass
class SearchIndexCheck:
    """Input of ``inspect_search_index``: the search text whose vector leg is explained."""

    query: str = "fraud detection for card payments"


@dataclass
class SearchIndexReport:
    """Result of ``inspect_search_index``. ``exists``/``valid``: the index in ``pg_index``;
    ``used_by_plan``: the planner used it for the vector leg as searches run it; ``usable``: it
    would with sequential scans disabled (below a few thousand agents PostgreSQL prefers a
    sequential scan, which is then the faster plan); ``plan``: the ``EXPLAIN (ANALYZE, BUFFERS)``
    tree as text; ``execution_ms`` and buffers (8 kB pages, hit in shared buffers or read) of that
    run; ``agents``: agents with an embedding; ``index_bytes``: its size (None: missing)."""

    index_name: str
    exists: bool
    valid: bool
    used_by_plan: bool
    plan: str
    execution_ms: float
    shared_hit: int
    shared_read: int
    agents: int
    index_bytes: int | None
    usable: bool = False


@dataclass
class RebuildSearchIndex:
    """Input of ``rebuild_search_index``: one of the search indexes on ``agents``
    (``ix_agents_embedding_hnsw``, ``ix_agents_search_tsv``)."""

    index_name: str = "ix_agents_embedding_hnsw"


@dataclass
class RebuiltSearchIndex:
    """Result of ``rebuild_search_index``: ``created`` (it was missing or invalid) or ``reindexed``,
    how long the build took (seconds), and whether the index is valid afterwards."""

    action: str
    duration_s: float
    valid: bool


# -- High error rate and failed deployments -------------------------------------------------------
@dataclass
class ErrorRateCheck:
    """Input of ``error_rates``: runs started in the last ``window_s`` seconds, of one agent or all,
    versions with at least ``min_runs`` finished runs."""

    window_s: float = 900.0
    agent_name: str | None = None
    min_runs: int = 1


@dataclass
class ErrorRateRow:
    """One agent version over the window: ``runs`` finished (succeeded, failed or stopped by its
    budget), ``errors`` failed, ``error_rate`` = errors / runs, p95 latency (ms) of the finished ones,
    the commonest errors as ``"<count>× <message>"`` (at most 3), and ``violations``: runs the run
    guards stopped (blocked or withheld), which are not errors."""

    agent_name: str
    version: int
    runs: int
    errors: int
    error_rate: float
    p95_latency_ms: float | None
    top_errors: list[str]
    violations: int = 0


@dataclass
class ErrorRateReport:
    """Result of ``error_rates``: one row per agent version, highest error rate first."""

    window_s: float
    rows: list[ErrorRateRow]


@dataclass
class DeploymentsCheck:
    """Input of ``recent_deployments``: rollouts started in the last ``since_s`` seconds, of one agent
    or all, newest first, at most ``limit``."""

    agent_name: str | None = None
    since_s: float = 86400.0
    limit: int = 10


@dataclass
class DeploymentInfo:
    """One rollout: ``deployment_id`` is its workflow id (``deploy:{name}:v{n}``, to signal it),
    ``state`` a :class:`~workflows.statuses.DeploymentState` value, ``stable_version`` the version that
    served before it (None: none, or unknown), ``analyses`` its canary analyses in order (``step``,
    ``weight_pct``, ``verdict``, ``reasons``, ``canary`` and ``baseline`` metrics with error rates and
    p99 ms, each ``metrics`` verdict, ``analysed_at``), ``traffic`` the agent's weights now (percent
    by version as text), ``detail`` why it ended as it did."""

    deployment_id: str
    agent_name: str
    version: int
    strategy: str
    state: str
    started_at: str
    finished_at: str | None
    stable_version: int | None
    analyses: list[dict[str, Any]]
    traffic: dict[str, float]
    detail: str = ""
    weight_pct: float = 0.0
    target: str = "local"


@dataclass
class DeploymentsReport:
    """Result of ``recent_deployments``."""

    rows: list[DeploymentInfo]


# -- Webhook failures -----------------------------------------------------------------------------
@dataclass
class WebhookFailuresCheck:
    """Input of ``webhook_failures``: the window of ``outcomes_since``, seconds."""

    since_s: float = 86400.0


@dataclass
class WebhookFailuresReport:
    """Result of ``webhook_failures``: the dead letters now, whenever received (count, ids oldest
    first, at most 500; counts by ``detail``; when the oldest arrived), and over the window: deliveries
    by outcome and how many were forged or unsigned."""

    dead_letters: int
    dead_letter_ids: list[int]
    by_detail: dict[str, int]
    oldest_at: str | None
    outcomes_since: dict[str, int]
    forged_or_unsigned: int


@dataclass
class ReplayDeadLetters:
    """Input of ``replay_dead_letters``: those deliveries (None: every dead letter), re-driven as
    ``actor`` (who confirmed; each replay is an audit event in their name)."""

    delivery_ids: list[int] | None = None
    actor: str = "runbook"


@dataclass
class ReplayedDelivery:
    """What became of one delivery: its outcome (a :class:`~workflows.statuses.WebhookOutcome`
    value) and detail."""

    id: int
    outcome: str
    detail: str


@dataclass
class ReplayedDeadLetters:
    """Result of ``replay_dead_letters``, in delivery order."""

    results: list[ReplayedDelivery] = field(default_factory=list)
