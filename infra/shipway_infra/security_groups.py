"""Who may talk to whom: the internet to the ALB (80/443), the ALB to the tasks (gateway 8080, console
8501), the tasks to the database (5432) and out to the internet; nothing else reaches the database."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi_aws as aws

from .config import ShipwayConfig

GATEWAY_PORT = 8080
CONSOLE_PORT = 8501
POSTGRES_PORT = 5432


@dataclass(frozen=True)
class SecurityGroups:
    """The three security groups: ``alb`` (public), ``tasks`` (every ECS task), ``database`` (RDS)."""

    alb: aws.ec2.SecurityGroup
    tasks: aws.ec2.SecurityGroup
    database: aws.ec2.SecurityGroup


def create_security_groups(cfg: ShipwayConfig, vpc: aws.ec2.Vpc) -> SecurityGroups:
    """Create the groups and their rules (one rule resource each, so a change replaces one rule,
    not the group). A group created here keeps no default allow-all egress: the provider drops it."""
    alb = aws.ec2.SecurityGroup(f"{cfg.name}-alb", vpc_id=vpc.id, description="Shipway ALB: HTTP(S) from ingressCidrs")
    tasks = aws.ec2.SecurityGroup(f"{cfg.name}-tasks", vpc_id=vpc.id, description="Shipway ECS tasks")
    database = aws.ec2.SecurityGroup(f"{cfg.name}-db", vpc_id=vpc.id, description="Shipway RDS: 5432 from the tasks only")

    listener_ports = [80, 443] if cfg.certificate_arn else [80]
    for cidr_index, cidr in enumerate(cfg.ingress_cidrs):
        for port in listener_ports:
            aws.vpc.SecurityGroupIngressRule(
                f"{cfg.name}-alb-in-{port}-{cidr_index}", security_group_id=alb.id, ip_protocol="tcp",
                from_port=port, to_port=port, cidr_ipv4=cidr, description=f"HTTP{'S' if port == 443 else ''} from {cidr}")
    for port in (GATEWAY_PORT, CONSOLE_PORT):
        aws.vpc.SecurityGroupEgressRule(
            f"{cfg.name}-alb-out-{port}", security_group_id=alb.id, ip_protocol="tcp", from_port=port, to_port=port,
            referenced_security_group_id=tasks.id, description=f"to the tasks on {port}")
        aws.vpc.SecurityGroupIngressRule(
            f"{cfg.name}-tasks-in-{port}", security_group_id=tasks.id, ip_protocol="tcp", from_port=port, to_port=port,
            referenced_security_group_id=alb.id, description=f"from the ALB on {port}")
    # Tasks call Temporal (Cloud or a cluster), ECR, Secrets Manager, CloudWatch Logs, the model
    # provider and Jira: hosts outside the VPC on several ports, hence all egress.
    aws.vpc.SecurityGroupEgressRule(f"{cfg.name}-tasks-out", security_group_id=tasks.id, ip_protocol="-1",
                                    cidr_ipv4="0.0.0.0/0", description="Temporal, AWS APIs, model provider, Jira")
    aws.vpc.SecurityGroupIngressRule(
        f"{cfg.name}-db-in", security_group_id=database.id, ip_protocol="tcp", from_port=POSTGRES_PORT,
        to_port=POSTGRES_PORT, referenced_security_group_id=tasks.id, description="PostgreSQL from the ECS tasks")
    return SecurityGroups(alb=alb, tasks=tasks, database=database)
