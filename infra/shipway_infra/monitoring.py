"""Alarms, their SNS topic and a CloudWatch dashboard.

Alarms (each notifies the topic when it fires and when it clears):

* per ECS service: average CPU > 80 % and average memory > 85 % for 5 minutes;
* ALB: more than 10 5XX in 5 minutes, those the ALB answers itself (no healthy target, timeouts)
  and those the tasks answer, as two alarms;
* gateway target group: p95 response time > 2 s over 5 minutes;
* gateway and console target groups: any unhealthy target for 2 minutes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .config import CONSOLE, GATEWAY, PROCESSES, ShipwayConfig
from .load_balancer import LoadBalancer

CPU_ALARM_PERCENT = 80.0
MEMORY_ALARM_PERCENT = 85.0
HTTP_5XX_ALARM_COUNT = 10.0
HTTP_5XX_PERIOD_S = 300
RESPONSE_TIME_ALARM_S = 2.0
UNHEALTHY_HOSTS_ALARM = 0.0


@dataclass(frozen=True)
class Monitoring:
    """The SNS topic every alarm notifies, and the dashboard."""

    topic: aws.sns.Topic
    dashboard: aws.cloudwatch.Dashboard


def dashboard_body(region: str, cluster_name: str, service_names: dict[str, str], alb_suffix: str,
                   target_group_suffixes: dict[str, str], db_identifier: str) -> dict:
    """CloudWatch dashboard JSON: ECS CPU and memory per service, ALB requests, 5XX and p95
    latency, healthy targets, and RDS CPU, connections and free storage (bytes)."""
    def widget(title: str, metrics: list[list], stat: str = "Average") -> dict:
        return {"type": "metric", "width": 12, "height": 6,
                "properties": {"title": title, "region": region, "stat": stat, "period": 60, "metrics": metrics}}

    return {"widgets": [
        widget("ECS CPU %", [["AWS/ECS", "CPUUtilization", "ClusterName", cluster_name, "ServiceName", name]
                             for name in service_names.values()]),
        widget("ECS memory %", [["AWS/ECS", "MemoryUtilization", "ClusterName", cluster_name, "ServiceName", name]
                                for name in service_names.values()]),
        widget("ALB requests and 5XX", [["AWS/ApplicationELB", metric, "LoadBalancer", alb_suffix]
                                        for metric in ("RequestCount", "HTTPCode_ELB_5XX_Count", "HTTPCode_Target_5XX_Count")],
               stat="Sum"),
        widget("Target response time p95 (s)", [["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", alb_suffix,
                                                 "TargetGroup", tg] for tg in target_group_suffixes.values()], stat="p95"),
        widget("Healthy / unhealthy targets", [["AWS/ApplicationELB", metric, "LoadBalancer", alb_suffix, "TargetGroup", tg]
                                               for tg in target_group_suffixes.values()
                                               for metric in ("HealthyHostCount", "UnHealthyHostCount")], stat="Maximum"),
        widget("RDS", [["AWS/RDS", metric, "DBInstanceIdentifier", db_identifier]
                       for metric in ("CPUUtilization", "DatabaseConnections", "FreeStorageSpace")]),
    ]}


def create_monitoring(cfg: ShipwayConfig, cluster: aws.ecs.Cluster, services: dict[str, aws.ecs.Service],
                      lb: LoadBalancer, db: aws.rds.Instance) -> Monitoring:
    """Create the topic (with the e-mail subscription when ``alarm_email`` is set), the alarms and the dashboard."""
    # Unencrypted on purpose: CloudWatch cannot publish to a topic under the AWS managed SNS key,
    # and alarm notifications carry metric names and values only.
    topic = aws.sns.Topic(f"{cfg.name}-alarms")
    if cfg.alarm_email:
        aws.sns.TopicSubscription(f"{cfg.name}-alarms-email", topic=topic.arn, protocol="email", endpoint=cfg.alarm_email)
    notify = {"alarm_actions": [topic.arn], "ok_actions": [topic.arn]}

    def alarm(key: str, description: str, **args) -> None:
        aws.cloudwatch.MetricAlarm(f"{cfg.name}-{key}", alarm_description=description,
                                   comparison_operator="GreaterThanThreshold", **notify, **args)

    for process, service in services.items():
        dims = {"ClusterName": cluster.name, "ServiceName": service.name}
        alarm(f"{process}-cpu", f"{process}: average CPU above {CPU_ALARM_PERCENT:g} % for 5 minutes",
              namespace="AWS/ECS", metric_name="CPUUtilization", dimensions=dims, statistic="Average",
              period=60, evaluation_periods=5, threshold=CPU_ALARM_PERCENT)
        alarm(f"{process}-memory", f"{process}: average memory above {MEMORY_ALARM_PERCENT:g} % for 5 minutes",
              namespace="AWS/ECS", metric_name="MemoryUtilization", dimensions=dims, statistic="Average",
              period=60, evaluation_periods=5, threshold=MEMORY_ALARM_PERCENT)

    alb_dims = {"LoadBalancer": lb.alb.arn_suffix}
    for key, metric, who in (("alb-5xx", "HTTPCode_ELB_5XX_Count", "the ALB"),
                             ("target-5xx", "HTTPCode_Target_5XX_Count", "the tasks")):
        alarm(key, f"more than {HTTP_5XX_ALARM_COUNT:g} 5XX answered by {who} in 5 minutes",
              namespace="AWS/ApplicationELB", metric_name=metric, dimensions=alb_dims, statistic="Sum",
              period=HTTP_5XX_PERIOD_S, evaluation_periods=1, threshold=HTTP_5XX_ALARM_COUNT,
              treat_missing_data="notBreaching")
    gateway_dims = {**alb_dims, "TargetGroup": lb.gateway_target_group.arn_suffix}
    alarm("gateway-latency", f"gateway p95 response time above {RESPONSE_TIME_ALARM_S:g} s over 5 minutes",
          namespace="AWS/ApplicationELB", metric_name="TargetResponseTime", dimensions=gateway_dims,
          extended_statistic="p95", period=300, evaluation_periods=1, threshold=RESPONSE_TIME_ALARM_S,
          treat_missing_data="notBreaching")
    for process, tg in ((GATEWAY, lb.gateway_target_group), (CONSOLE, lb.console_target_group)):
        alarm(f"{process}-unhealthy", f"{process}: an unhealthy target for 2 minutes",
              namespace="AWS/ApplicationELB", metric_name="UnHealthyHostCount",
              dimensions={**alb_dims, "TargetGroup": tg.arn_suffix}, statistic="Maximum",
              period=60, evaluation_periods=2, threshold=UNHEALTHY_HOSTS_ALARM, treat_missing_data="notBreaching")

    body = pulumi.Output.all(
        cluster.name, {p: services[p].name for p in PROCESSES}, lb.alb.arn_suffix,
        {GATEWAY: lb.gateway_target_group.arn_suffix, CONSOLE: lb.console_target_group.arn_suffix}, db.identifier,
    ).apply(lambda a: json.dumps(dashboard_body(cfg.region, a[0], a[1], a[2], a[3], a[4])))
    dashboard = aws.cloudwatch.Dashboard(f"{cfg.name}-dashboard", dashboard_name=cfg.name, dashboard_body=body)
    return Monitoring(topic=topic, dashboard=dashboard)
