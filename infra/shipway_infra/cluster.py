"""The ECS cluster (Container Insights on) and one CloudWatch log group per process."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi_aws as aws

from .config import PROCESSES, ShipwayConfig

# the one-off task that applies the database migrations (`shipway migrate`), run before the services
MIGRATE = "migrate"


@dataclass(frozen=True)
class Cluster:
    """The cluster and its log groups, by process name (the services' and ``migrate``)."""

    cluster: aws.ecs.Cluster
    log_groups: dict[str, aws.cloudwatch.LogGroup]


def create_cluster(cfg: ShipwayConfig) -> Cluster:
    """Create the cluster (its services run with the FARGATE launch type) and the log groups ``/ecs/<name>/<process>``
    kept ``log_retention_days`` days."""
    cluster = aws.ecs.Cluster(cfg.name, settings=[aws.ecs.ClusterSettingArgs(name="containerInsights", value="enabled")])
    log_groups = {process: aws.cloudwatch.LogGroup(f"{cfg.name}-{process}", name=f"/ecs/{cfg.name}/{process}",
                                                   retention_in_days=cfg.log_retention_days)
                  for process in (*PROCESSES, MIGRATE)}
    return Cluster(cluster=cluster, log_groups=log_groups)
