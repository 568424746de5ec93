"""Wires the modules into one stack, in dependency order, and names what the stack exports."""

from __future__ import annotations

import pulumi

from .cluster import create_cluster
from .config import ShipwayConfig
from .database import create_database
from .iam import create_roles
from .load_balancer import create_load_balancer
from .monitoring import create_monitoring
from .network import create_network
from .scaling import create_scaling
from .secrets import create_secrets
from .security_groups import create_security_groups
from .services import create_services
from .storage import create_artifact_bucket


def build(cfg: ShipwayConfig) -> dict[str, pulumi.Input]:
    """Create every resource of the stack.

    Returns: export name -> value (``__main__`` exports each; the aws deployment target reads
    ``gateway_listener_rule_arn`` and ``gateway_target_group_arns`` to move canary weights).
    """
    network = create_network(cfg)
    groups = create_security_groups(cfg, network.vpc)
    artifacts = create_artifact_bucket(cfg)
    db = create_database(cfg, network.private_subnet_ids, groups.database)
    secrets = create_secrets(cfg, db)
    cluster = create_cluster(cfg)
    lb = create_load_balancer(cfg, network.vpc.id, network.public_subnet_ids, groups.alb)
    roles = create_roles(cfg, secrets, list(cluster.log_groups.values()), artifacts.bucket, artifacts.prefix,
                         lb.listener, cluster.cluster)
    services = create_services(cfg, cluster, roles, lb, secrets, network.private_subnet_ids, groups.tasks,
                               artifacts.store_url, network.vpc.id)
    create_scaling(cfg, cluster.cluster, services.services, lb)
    monitoring = create_monitoring(cfg, cluster.cluster, services.services, lb, db.instance)
    return {
        "url": lb.url,
        "alb_dns_name": lb.alb.dns_name,
        "rds_endpoint": db.instance.endpoint,
        "cluster_name": cluster.cluster.name,
        "service_names": {process: s.name for process, s in services.services.items()},
        "gateway_listener_rule_arn": lb.gateway_rule.arn,
        "gateway_target_group_arns": [lb.gateway_target_group.arn],
        "console_target_group_arn": lb.console_target_group.arn,
        "sns_topic_arn": monitoring.topic.arn,
        "artifact_bucket": artifacts.bucket.bucket,
        "artifact_store": artifacts.store_url,
        "migrate_task_definition_arn": services.migrate_task_definition.arn,
        "private_subnet_ids": network.private_subnet_ids,
        "task_security_group_id": groups.tasks.id,
        "dashboard_name": monitoring.dashboard.dashboard_name,
    }
