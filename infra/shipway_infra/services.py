"""Task definitions and ECS services: the gateway, one worker service per Temporal task queue (scaled
apart), the console; plus the one-off ``migrate`` task definition. Every task runs the same image
in the private subnets without a public IP, with its environment from the config and its secrets
from Secrets Manager."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .cluster import MIGRATE, Cluster
from .config import CONSOLE, DATABASE_URL_ENV, GATEWAY, WORKER_AGENTS, WORKER_CONTROL, ShipwayConfig
from .iam import TaskRoles
from .load_balancer import CONSOLE_BASE_PATH, LoadBalancer
from .security_groups import CONSOLE_PORT, GATEWAY_PORT

# shipway/settings.py's CONTROL_TASK_QUEUE and AGENTS_TASK_QUEUE (the tests check they still agree)
CONTROL_TASK_QUEUE, AGENTS_TASK_QUEUE = "shipway-control", "shipway-agents"

COMMANDS: dict[str, list[str]] = {
    GATEWAY: ["shipway", "gateway", "--host", "0.0.0.0", "--port", str(GATEWAY_PORT)],
    WORKER_CONTROL: ["shipway", "worker", "--queue", CONTROL_TASK_QUEUE],
    WORKER_AGENTS: ["shipway", "worker", "--queue", AGENTS_TASK_QUEUE],
    CONSOLE: ["shipway", "console", "--port", str(CONSOLE_PORT), "--host", "0.0.0.0"],
    MIGRATE: ["shipway", "migrate"],
}
PORTS = {GATEWAY: GATEWAY_PORT, CONSOLE: CONSOLE_PORT}
# Seconds between SIGTERM and SIGKILL: a worker gets Fargate's maximum to finish its activities
# (an unfinished graph resumes from its last checkpoint on another worker either way).
STOP_TIMEOUT_S = {WORKER_CONTROL: 120, WORKER_AGENTS: 120}
DEFAULT_STOP_TIMEOUT_S = 30
MIGRATE_CPU, MIGRATE_MEMORY = 512, 2048
# Seconds the ALB's first failing health checks are ignored: a cold task pulls a large image (torch,
# LangGraph, the reference agents) and connects to the database and Temporal before /healthz is 200.
HEALTH_CHECK_GRACE_S = 120


@dataclass(frozen=True)
class Services:
    """The ECS services by process name, and the ``migrate`` task definition."""

    services: dict[str, aws.ecs.Service]
    migrate_task_definition: aws.ecs.TaskDefinition


def container_definition(process: str, image: str, environment: Mapping[str, str], secret_arns: Mapping[str, str],
                         log_group: str, region: str) -> dict:
    """The ECS container definition of ``process`` (one container per task, named after the process).

    ``environment``: plain variables; ``secret_arns``: variable -> Secrets Manager ARN, resolved by
    ECS at start (values never appear in the task definition); ``log_group``: CloudWatch log group name.
    """
    definition = {
        "name": process,
        "image": image,
        "essential": True,
        "command": COMMANDS[process],
        "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
        "secrets": [{"name": k, "valueFrom": v} for k, v in sorted(secret_arns.items())],
        "stopTimeout": STOP_TIMEOUT_S.get(process, DEFAULT_STOP_TIMEOUT_S),
        "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": log_group, "awslogs-region": region, "awslogs-stream-prefix": process}},
    }
    if process in PORTS:
        definition["portMappings"] = [{"containerPort": PORTS[process], "protocol": "tcp"}]
    return definition


def _task_definition(cfg: ShipwayConfig, process: str, cpu: int, memory: int, execution_role: aws.iam.Role,
                     task_role: aws.iam.Role, environment: Mapping[str, pulumi.Input[str]],
                     secrets: Mapping[str, aws.secretsmanager.Secret], log_group: aws.cloudwatch.LogGroup) -> aws.ecs.TaskDefinition:
    containers = pulumi.Output.all(dict(environment), {env: s.arn for env, s in secrets.items()}, log_group.name).apply(
        lambda a: json.dumps([container_definition(process, cfg.image, a[0], a[1], a[2], cfg.region)]))
    return aws.ecs.TaskDefinition(
        f"{cfg.name}-{process}", family=f"{cfg.name}-{process}", cpu=str(cpu), memory=str(memory),
        network_mode="awsvpc", requires_compatibilities=["FARGATE"],
        runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(operating_system_family="LINUX",
                                                                   cpu_architecture=cfg.cpu_architecture),
        execution_role_arn=execution_role.arn, task_role_arn=task_role.arn, container_definitions=containers)


def create_services(cfg: ShipwayConfig, cluster: Cluster, roles: TaskRoles, lb: LoadBalancer,
                    secrets: Mapping[str, aws.secretsmanager.Secret], private_subnet_ids: list[pulumi.Input[str]],
                    task_security_group: aws.ec2.SecurityGroup, artifact_store_url: pulumi.Input[str],
                    vpc_id: pulumi.Input[str]) -> Services:
    """Create a task definition and a service per process, and the ``migrate`` task definition
    (run with ``aws ecs run-task`` before the first deployment and after each upgrade). The control
    worker also gets ``SHIPWAY_AWS_ECS``: where the ``aws`` target runs each agent version's own
    service (a copy of the gateway's task definition, in the private subnets)."""
    environment: dict[str, pulumi.Input[str]] = {
        **cfg.environment,
        "TEMPORAL_ADDRESS": cfg.temporal_address,
        "TEMPORAL_NAMESPACE": cfg.temporal_namespace,
        "SHIPWAY_ARTIFACT_STORE": artifact_store_url,
        "SHIPWAY_S3_REGION": cfg.region,
        "SHIPWAY_AWS_REGION": cfg.region,
        "SHIPWAY_GATEWAY_URL": lb.url,
    }
    target_groups = {GATEWAY: (lb.gateway_target_group, lb.gateway_rule), CONSOLE: (lb.console_target_group, lb.console_rule)}
    services = {}
    for process, spec in cfg.services.items():
        env = {**environment, "STREAMLIT_SERVER_BASE_URL_PATH": CONSOLE_BASE_PATH} if process == CONSOLE else environment
        if process == WORKER_CONTROL:
            env = {**env, "SHIPWAY_AWS_ECS": pulumi.Output.json_dumps({
                "cluster": cluster.cluster.name, "base_task_definition": f"{cfg.name}-{GATEWAY}", "container_name": GATEWAY,
                "container_port": PORTS[GATEWAY], "vpc_id": vpc_id, "subnets": private_subnet_ids,
                "security_groups": [task_security_group.id], "desired_count": cfg.services[GATEWAY].desired_count})}
        # only the control worker runs the deployment target's set_traffic activity
        task_role = roles.control if process == WORKER_CONTROL else roles.task
        task_definition = _task_definition(cfg, process, spec.cpu, spec.memory, roles.execution, task_role, env,
                                           secrets, cluster.log_groups[process])
        behind_alb = target_groups.get(process)
        services[process] = aws.ecs.Service(
            f"{cfg.name}-{process}",
            cluster=cluster.cluster.arn,
            task_definition=task_definition.arn,
            desired_count=spec.desired_count,
            launch_type="FARGATE",
            network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
                subnets=private_subnet_ids, security_groups=[task_security_group.id], assign_public_ip=False),
            deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(enable=True, rollback=True),
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            load_balancers=[aws.ecs.ServiceLoadBalancerArgs(target_group_arn=behind_alb[0].arn, container_name=process,
                                                            container_port=PORTS[process])] if behind_alb else None,
            health_check_grace_period_seconds=HEALTH_CHECK_GRACE_S if behind_alb else None,
            enable_ecs_managed_tags=True,
            propagate_tags="SERVICE",
            # auto-scaling owns the task count once the service exists; ECS refuses a target group
            # no listener rule forwards to yet
            opts=pulumi.ResourceOptions(ignore_changes=["desired_count"],
                                        depends_on=[behind_alb[1]] if behind_alb else None),
        )
    migrate = _task_definition(cfg, MIGRATE, MIGRATE_CPU, MIGRATE_MEMORY, roles.execution, roles.task, environment,
                               {DATABASE_URL_ENV: secrets[DATABASE_URL_ENV]}, cluster.log_groups[MIGRATE])
    return Services(services=services, migrate_task_definition=migrate)
