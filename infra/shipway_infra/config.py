"""The stack's configuration: every ``shipway:*`` key of ``Pulumi.<stack>.yaml``, read and checked once.

:func:`load_config` is the only reader of ``pulumi.Config``; every other module takes a
:class:`ShipwayConfig`, so the tests build the stack from a plain dataclass.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

# Shipway's long-running processes (shipway/cli/services.py), one ECS service each: a worker per task queue.
GATEWAY, WORKER_CONTROL, WORKER_AGENTS, CONSOLE = "gateway", "worker-control", "worker-agents", "console"
PROCESSES = (GATEWAY, WORKER_CONTROL, WORKER_AGENTS, CONSOLE)

# Pulumi config key (set with `pulumi config set --secret KEY VALUE`) -> the environment variable
# shipway/settings.py (or LangChain, for the model provider's key) reads it from.
SECRET_SETTINGS: dict[str, str] = {
    "checkpointKeys": "SHIPWAY_CHECKPOINT_KEYS",
    "temporalApiKey": "TEMPORAL_API_KEY",
    "jiraApiToken": "SHIPWAY_JIRA_API_TOKEN",
    "jiraWebhookSecrets": "SHIPWAY_JIRA_WEBHOOK_SECRETS",
    "openaiApiKey": "OPENAI_API_KEY",
}
# Without shared keys every task would create its own key file and no other task could read the
# checkpoints it wrote, so a run could not resume on another worker.
REQUIRED_SECRETS = ("checkpointKeys",)

# Set by the program itself (from the resources it creates); `environment` may not override them,
# and may not carry a secret in clear text.
DATABASE_URL_ENV = "DATABASE_URL"
MANAGED_ENV = frozenset({
    DATABASE_URL_ENV, "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "SHIPWAY_ARTIFACT_STORE", "SHIPWAY_S3_REGION",
    "SHIPWAY_AWS_REGION", "SHIPWAY_GATEWAY_URL", "STREAMLIT_SERVER_BASE_URL_PATH", *SECRET_SETTINGS.values(),
})

# Fargate's valid task sizes: CPU units (1024 = 1 vCPU) -> (smallest, largest, step) memory in MiB.
FARGATE_MEMORY = {
    256: (512, 2048, None),  # 512, 1024, 2048 only
    512: (1024, 4096, 1024),
    1024: (2048, 8192, 1024),
    2048: (4096, 16384, 1024),
    4096: (8192, 30720, 1024),
    8192: (16384, 61440, 4096),
    16384: (32768, 122880, 8192),
}

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,15}$")
# the retention periods CloudWatch Logs accepts, days
LOG_RETENTION_DAYS = frozenset({1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                                2557, 2922, 3288, 3653})


@dataclass(frozen=True)
class ServiceSpec:
    """Size and scale of one ECS service.

    ``cpu``: CPU units (1024 = 1 vCPU); ``memory``: MiB; ``desired_count`` / ``min_count`` /
    ``max_count``: tasks (auto-scaling moves the count between min and max).
    """

    cpu: int
    memory: int
    desired_count: int = 2
    min_count: int = 2
    max_count: int = 10


DEFAULT_SERVICES: dict[str, ServiceSpec] = {
    GATEWAY: ServiceSpec(cpu=1024, memory=2048),
    # builds artifacts, runs their tests and indexes them (sentence-transformers)
    WORKER_CONTROL: ServiceSpec(cpu=1024, memory=4096),
    # runs the graphs and the run guards (Presidio + spaCy, NeMo Guardrails) in one process
    WORKER_AGENTS: ServiceSpec(cpu=2048, memory=8192),
    CONSOLE: ServiceSpec(cpu=512, memory=2048),
}


@dataclass(frozen=True)
class ShipwayConfig:
    """Everything the program needs to know about one stack.

    Names: ``name`` prefixes every resource (<= 16 characters, so that target group names stay
    within AWS's 32). ``availability_zones``: exactly three names, or empty to take the region's
    first three available. ``secrets``: environment variable -> secret value (a Pulumi secret
    Output), each stored in Secrets Manager and injected as a container secret.
    ``environment``: plain environment variables for every container. Sizes: GB for storage,
    days for log retention.
    """

    name: str
    region: str
    image: str
    temporal_address: str
    secrets: Mapping[str, pulumi.Input[str]]
    temporal_namespace: str = "default"
    availability_zones: tuple[str, ...] = ()
    vpc_cidr: str = "10.40.0.0/16"
    single_nat_gateway: bool = False
    ingress_cidrs: tuple[str, ...] = ("0.0.0.0/0",)
    certificate_arn: str | None = None
    public_url: str | None = None
    alarm_email: str | None = None
    deletion_protection: bool = True
    db_instance_class: str = "db.t4g.medium"
    db_engine_version: str = "16"
    db_allocated_storage_gb: int = 50
    db_max_allocated_storage_gb: int = 200
    log_retention_days: int = 30
    cpu_architecture: str = "X86_64"
    secrets_kms_key_arn: str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    services: Mapping[str, ServiceSpec] = field(default_factory=lambda: dict(DEFAULT_SERVICES))

    def __post_init__(self) -> None:
        validate(self)


def fargate_size_ok(cpu: int, memory: int) -> bool:
    """Whether ``cpu`` units and ``memory`` MiB are a task size Fargate accepts."""
    if cpu not in FARGATE_MEMORY:
        return False
    low, high, step = FARGATE_MEMORY[cpu]
    if step is None:
        return memory in (512, 1024, 2048)
    return low <= memory <= high and (memory - low) % step == 0


def validate(cfg: ShipwayConfig) -> None:
    """Refuse a configuration AWS would only reject halfway through ``pulumi up``.

    Raises:
        ValueError: naming the key and what is wrong with it.
    """
    if not NAME_PATTERN.match(cfg.name):
        raise ValueError(f"name {cfg.name!r}: lowercase letters, digits and '-', starting with a letter, at most 16")
    if cfg.availability_zones and len(cfg.availability_zones) != 3:
        raise ValueError(f"availabilityZones: exactly 3 names, not {list(cfg.availability_zones)}")
    if ipaddress.ip_network(cfg.vpc_cidr).prefixlen > 20:
        raise ValueError(f"vpcCidr {cfg.vpc_cidr}: /20 or larger, so each of the 6 subnets gets at least a /24")
    if cfg.db_max_allocated_storage_gb < cfg.db_allocated_storage_gb:
        raise ValueError("dbMaxAllocatedStorageGb must be at least dbAllocatedStorageGb")
    if cfg.log_retention_days not in LOG_RETENTION_DAYS:
        raise ValueError(f"logRetentionDays {cfg.log_retention_days}: one of {sorted(LOG_RETENTION_DAYS)}")
    missing = [k for k in REQUIRED_SECRETS if SECRET_SETTINGS[k] not in cfg.secrets]
    if missing:
        raise ValueError(f"missing secret config: {missing} (pulumi config set --secret KEY VALUE)")
    clash = sorted(set(cfg.environment) & MANAGED_ENV)
    if clash:
        raise ValueError(f"environment may not set {clash}: the program sets them, secrets come from Secrets Manager")
    unknown = sorted(set(cfg.services) ^ set(PROCESSES))
    if unknown:
        raise ValueError(f"services: need exactly {list(PROCESSES)}, got {sorted(cfg.services)}")
    for process, spec in cfg.services.items():
        if not fargate_size_ok(spec.cpu, spec.memory):
            raise ValueError(f"services.{process}: cpu {spec.cpu} / memory {spec.memory} MiB is not a Fargate task size")
        if not 1 <= spec.min_count <= spec.desired_count <= spec.max_count:
            raise ValueError(f"services.{process}: need 1 <= minCount <= desiredCount <= maxCount")


def load_config() -> ShipwayConfig:
    """The current stack's :class:`ShipwayConfig`, from ``shipway:*`` keys and ``aws:region``; an unset
    optional key keeps the dataclass default.

    Raises:
        pulumi.ConfigMissingError: a required key (image, temporalAddress, checkpointKeys, aws:region) is unset.
        ValueError: a value :func:`validate` refuses.
    """
    c = pulumi.Config("shipway")
    services = dict(DEFAULT_SERVICES)
    for process, override in (c.get_object("services") or {}).items():
        if process not in services:
            raise ValueError(f"services.{process}: not one of {list(PROCESSES)}")
        base = services[process]
        services[process] = ServiceSpec(
            cpu=int(override.get("cpu", base.cpu)), memory=int(override.get("memory", base.memory)),
            desired_count=int(override.get("desiredCount", base.desired_count)),
            min_count=int(override.get("minCount", base.min_count)), max_count=int(override.get("maxCount", base.max_count)))
    secrets = {env: value for key, env in SECRET_SETTINGS.items()
               if (value := c.require_secret(key) if key in REQUIRED_SECRETS else c.get_secret(key)) is not None}
    zones, cidrs, environment = c.get_object("availabilityZones"), c.get_object("ingressCidrs"), c.get_object("environment")
    optional = {
        "temporal_namespace": c.get("temporalNamespace"),
        "availability_zones": tuple(zones) if zones else None,
        "vpc_cidr": c.get("vpcCidr"),
        "single_nat_gateway": c.get_bool("singleNatGateway"),
        "ingress_cidrs": tuple(cidrs) if cidrs else None,
        "certificate_arn": c.get("certificateArn"),
        "public_url": c.get("publicUrl"),
        "alarm_email": c.get("alarmEmail"),
        "deletion_protection": c.get_bool("deletionProtection"),
        "db_instance_class": c.get("dbInstanceClass"),
        "db_engine_version": c.get("dbEngineVersion"),
        "db_allocated_storage_gb": c.get_int("dbAllocatedStorageGb"),
        "db_max_allocated_storage_gb": c.get_int("dbMaxAllocatedStorageGb"),
        "log_retention_days": c.get_int("logRetentionDays"),
        "cpu_architecture": c.get("cpuArchitecture"),
        "secrets_kms_key_arn": c.get("secretsKmsKeyArn"),
        "environment": {str(k): str(v) for k, v in environment.items()} if environment else None,
    }
    return ShipwayConfig(
        name=c.get("name") or f"shipway-{pulumi.get_stack()}",
        region=pulumi.Config("aws").require("region"),
        image=c.require("image"),
        temporal_address=c.require("temporalAddress"),
        secrets=secrets,
        services=services,
        **{key: value for key, value in optional.items() if value is not None},
    )
