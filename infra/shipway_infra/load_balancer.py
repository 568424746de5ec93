"""The public ALB: HTTPS (with ``certificate_arn``; HTTP then only redirects) or HTTP alone, routing
``/console*`` to the console and everything else to the gateway.

The gateway's rule forwards with a **weighted** ``forward`` action, one target group today at weight
100. Shipway's aws deployment target later adds a target group per agent version and moves the
weights on that rule (its ARN is exported); Pulumi ignores the rule's actions after creating it, so
an ``up`` does not reset a canary's weights.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .config import ShipwayConfig
from .security_groups import CONSOLE_PORT, GATEWAY_PORT

# Streamlit serves under this path (STREAMLIT_SERVER_BASE_URL_PATH), so one hostname carries both
# the gateway and the console without DNS records of their own.
CONSOLE_BASE_PATH = "console"
GATEWAY_HEALTH_PATH = "/healthz"
CONSOLE_HEALTH_PATH = f"/{CONSOLE_BASE_PATH}/_stcore/health"
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
CONSOLE_RULE_PRIORITY, GATEWAY_RULE_PRIORITY = 10, 100


@dataclass(frozen=True)
class LoadBalancer:
    """The ALB, its target groups, the listener carrying the routing rules (HTTPS with a certificate,
    else HTTP), the two rules and the public base URL."""

    alb: aws.lb.LoadBalancer
    gateway_target_group: aws.lb.TargetGroup
    console_target_group: aws.lb.TargetGroup
    listener: aws.lb.Listener
    gateway_rule: aws.lb.ListenerRule
    console_rule: aws.lb.ListenerRule
    url: pulumi.Output[str]


def _target_group(name: str, vpc_id: pulumi.Input[str], port: int, health_path: str,
                  sticky: bool) -> aws.lb.TargetGroup:
    return aws.lb.TargetGroup(
        name, vpc_id=vpc_id, port=port, protocol="HTTP", target_type="ip",
        # long enough for an SSE stream or a resume call to finish when a task is replaced
        deregistration_delay=60,
        health_check=aws.lb.TargetGroupHealthCheckArgs(path=health_path, matcher="200", interval=15, timeout=5,
                                                       healthy_threshold=2, unhealthy_threshold=3),
        stickiness=aws.lb.TargetGroupStickinessArgs(type="lb_cookie", enabled=sticky, cookie_duration=86400))


def create_load_balancer(cfg: ShipwayConfig, vpc_id: pulumi.Input[str], public_subnet_ids: list[pulumi.Input[str]],
                         security_group: aws.ec2.SecurityGroup) -> LoadBalancer:
    """Create the ALB in the public subnets, the gateway and console target groups (IP targets:
    Fargate tasks), the listeners and the two routing rules."""
    alb = aws.lb.LoadBalancer(
        cfg.name, load_balancer_type="application", internal=False, subnets=public_subnet_ids,
        security_groups=[security_group.id], drop_invalid_header_fields=True,
        # SSE streams of the LangGraph API stay open between events longer than the 60 s default
        idle_timeout=300, enable_deletion_protection=cfg.deletion_protection)
    gateway_tg = _target_group(f"{cfg.name}-gw", vpc_id, GATEWAY_PORT, GATEWAY_HEALTH_PATH, sticky=False)
    # a Streamlit session lives in one task's memory: keep a browser on the task it started on
    console_tg = _target_group(f"{cfg.name}-console", vpc_id, CONSOLE_PORT, CONSOLE_HEALTH_PATH, sticky=True)

    not_found = aws.lb.ListenerDefaultActionArgs(
        type="fixed-response", fixed_response=aws.lb.ListenerDefaultActionFixedResponseArgs(
            content_type="application/json", status_code="404", message_body=json.dumps({"detail": "Not Found"})))
    if cfg.certificate_arn:
        listener = aws.lb.Listener(f"{cfg.name}-https", load_balancer_arn=alb.arn, port=443, protocol="HTTPS",
                                   certificate_arn=cfg.certificate_arn, ssl_policy=TLS_POLICY, default_actions=[not_found])
        aws.lb.Listener(
            f"{cfg.name}-http", load_balancer_arn=alb.arn, port=80, protocol="HTTP",
            default_actions=[aws.lb.ListenerDefaultActionArgs(
                type="redirect", redirect=aws.lb.ListenerDefaultActionRedirectArgs(
                    protocol="HTTPS", port="443", status_code="HTTP_301"))])
    else:
        listener = aws.lb.Listener(f"{cfg.name}-http", load_balancer_arn=alb.arn, port=80, protocol="HTTP",
                                   default_actions=[not_found])

    console_rule = aws.lb.ListenerRule(
        f"{cfg.name}-console", listener_arn=listener.arn, priority=CONSOLE_RULE_PRIORITY,
        conditions=[aws.lb.ListenerRuleConditionArgs(path_pattern=aws.lb.ListenerRuleConditionPathPatternArgs(
            values=[f"/{CONSOLE_BASE_PATH}", f"/{CONSOLE_BASE_PATH}/*"]))],
        actions=[aws.lb.ListenerRuleActionArgs(type="forward", target_group_arn=console_tg.arn)])
    gateway_rule = aws.lb.ListenerRule(
        f"{cfg.name}-gateway", listener_arn=listener.arn, priority=GATEWAY_RULE_PRIORITY,
        conditions=[aws.lb.ListenerRuleConditionArgs(path_pattern=aws.lb.ListenerRuleConditionPathPatternArgs(values=["/*"]))],
        actions=[aws.lb.ListenerRuleActionArgs(type="forward", forward=aws.lb.ListenerRuleActionForwardArgs(
            target_groups=[aws.lb.ListenerRuleActionForwardTargetGroupArgs(arn=gateway_tg.arn, weight=100)]))],
        opts=pulumi.ResourceOptions(ignore_changes=["actions"]))

    scheme = "https" if cfg.certificate_arn else "http"
    url = pulumi.Output.from_input(cfg.public_url) if cfg.public_url else pulumi.Output.concat(f"{scheme}://", alb.dns_name)
    return LoadBalancer(alb=alb, gateway_target_group=gateway_tg, console_target_group=console_tg, listener=listener,
                        gateway_rule=gateway_rule, console_rule=console_rule, url=url)
