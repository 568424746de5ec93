"""Auto-scaling of every ECS service between its ``min_count`` and ``max_count`` tasks by target
tracking: average CPU 70 %, average memory 80 %, and for the gateway 1,000 ALB requests per task.

Workers scale on CPU and memory alone: the backlog of a Temporal task queue is not a CloudWatch
metric (see the README for what that means under a burst of runs).
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from .config import GATEWAY, ShipwayConfig
from .load_balancer import LoadBalancer

CPU_TARGET_PERCENT = 70.0
MEMORY_TARGET_PERCENT = 80.0
REQUESTS_PER_TARGET = 1000.0
# seconds: add tasks quickly, remove them only once the load has stayed down
SCALE_OUT_COOLDOWN_S = 60
SCALE_IN_COOLDOWN_S = 300


def _policy(name: str, target: aws.appautoscaling.Target, metric: str, value: float,
            resource_label: pulumi.Input[str] | None = None) -> aws.appautoscaling.Policy:
    return aws.appautoscaling.Policy(
        name, policy_type="TargetTrackingScaling", resource_id=target.resource_id,
        scalable_dimension=target.scalable_dimension, service_namespace=target.service_namespace,
        target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
            target_value=value, scale_out_cooldown=SCALE_OUT_COOLDOWN_S, scale_in_cooldown=SCALE_IN_COOLDOWN_S,
            predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                predefined_metric_type=metric, resource_label=resource_label)))


def create_scaling(cfg: ShipwayConfig, cluster: aws.ecs.Cluster, services: dict[str, aws.ecs.Service],
                   lb: LoadBalancer) -> None:
    """Register each service as a scalable target and attach its target-tracking policies."""
    for process, service in services.items():
        spec = cfg.services[process]
        target = aws.appautoscaling.Target(
            f"{cfg.name}-{process}", service_namespace="ecs", scalable_dimension="ecs:service:DesiredCount",
            resource_id=pulumi.Output.concat("service/", cluster.name, "/", service.name),
            min_capacity=spec.min_count, max_capacity=spec.max_count)
        _policy(f"{cfg.name}-{process}-cpu", target, "ECSServiceAverageCPUUtilization", CPU_TARGET_PERCENT)
        _policy(f"{cfg.name}-{process}-memory", target, "ECSServiceAverageMemoryUtilization", MEMORY_TARGET_PERCENT)
        if process == GATEWAY:
            # "app/<alb>/<id>/targetgroup/<tg>/<id>": the target group today's weighted rule forwards to
            label = pulumi.Output.concat(lb.alb.arn_suffix, "/", lb.gateway_target_group.arn_suffix)
            _policy(f"{cfg.name}-{process}-requests", target, "ALBRequestCountPerTarget", REQUESTS_PER_TARGET, label)
