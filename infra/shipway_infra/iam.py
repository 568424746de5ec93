"""Least-privilege roles of the ECS tasks.

* The **execution role** is what ECS itself uses to start a task: pull the image, create the log
  stream, read the task's secrets. It names each secret ARN, each log group and the image's ECR
  repository; the one ``"*"`` is ``ecr:GetAuthorizationToken``, which AWS defines on no resource.
* The **task role** is what Shipway's code runs as: read and write its artifacts in the bucket, under
  the prefix, and nothing else. The bucket uses SSE-S3, so no KMS right is needed; the checkpoint keys
  are AES keys in a secret (read by the execution role), not a KMS key.
* The **control worker's role** adds what the ``aws`` deployment target needs (its ``set_traffic``
  activity runs on the ``shipway-control`` queue): change the weights of listener rules on Shipway's
  own listener, and describe rules and target groups (``"*"``: AWS defines those two on no resource).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .config import ShipwayConfig

# action -> why its Resource must be "*": the only such actions the policies below contain
WILDCARD_ACTIONS = {
    "ecr:GetAuthorizationToken": "ECR's token API is account-wide: it supports no resource-level permission",
    "elasticloadbalancing:DescribeRules": "ELB's Describe* actions support no resource-level permission",
    "elasticloadbalancing:DescribeTargetGroups": "ELB's Describe* actions support no resource-level permission",
    "ecs:RegisterTaskDefinition": "ECS's RegisterTaskDefinition supports no resource-level permission",
    "ecs:DescribeTaskDefinition": "ECS's DescribeTaskDefinition supports no resource-level permission",
    "ecs:DeregisterTaskDefinition": "ECS's DeregisterTaskDefinition supports no resource-level permission",
    "ecs:ListTaskDefinitions": "ECS's List* actions support no resource-level permission",
}

ECR_IMAGE = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?P<cn>\.cn)?/(?P<repo>[^:@]+)")


@dataclass(frozen=True)
class TaskRoles:
    """``execution`` (ECS agent: image, logs, secrets), ``task`` (Shipway's code: the bucket) and
    ``control`` (the control worker: the bucket and the ALB weights)."""

    execution: aws.iam.Role
    task: aws.iam.Role
    control: aws.iam.Role


def assume_role_policy() -> dict:
    """Trust policy letting ECS tasks assume a role."""
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def ecr_repository_arn(image: str) -> str | None:
    """ARN of the ECR repository of an image URI (``<account>.dkr.ecr.<region>.amazonaws.com/<repo>[:tag|@digest]``),
    or None for an image in another registry (pulled without AWS credentials)."""
    m = ECR_IMAGE.match(image)
    if not m:
        return None
    partition = "aws-cn" if m["cn"] else "aws"
    return f"arn:{partition}:ecr:{m['region']}:{m['account']}:repository/{m['repo']}"


def execution_policy(secret_arns: Sequence[str], log_group_arns: Sequence[str], ecr_repo_arn: str | None,
                     kms_key_arn: str | None) -> dict:
    """Execution role policy: read exactly ``secret_arns``, write streams of exactly ``log_group_arns``,
    pull from ``ecr_repo_arn`` (if the image is in ECR) and decrypt with ``kms_key_arn`` (if the
    secrets are encrypted with a customer managed key)."""
    statements = [
        {"Sid": "ReadTaskSecrets", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
         "Resource": sorted(secret_arns)},
        {"Sid": "WriteTaskLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": sorted(r for arn in log_group_arns for r in (arn, f"{arn}:log-stream:*"))},
    ]
    if ecr_repo_arn:
        statements += [
            {"Sid": "EcrToken", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
            {"Sid": "PullImage", "Effect": "Allow", "Resource": ecr_repo_arn,
             "Action": ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]},
        ]
    if kms_key_arn:
        statements.append({"Sid": "DecryptSecrets", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": kms_key_arn,
                           "Condition": {"StringEquals": {"kms:ViaService": "secretsmanager.amazonaws.com"}}})
    return {"Version": "2012-10-17", "Statement": statements}


def task_policy(bucket_arn: str, prefix: str) -> dict:
    """Task role policy: get and put objects under ``<bucket>/<prefix>/``, and list that prefix
    (without ``s3:ListBucket`` a HEAD of a missing artifact answers 403, not the 404 Shipway's
    ``S3ArtifactStore.exists`` expects)."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "Artifacts", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
         "Resource": f"{bucket_arn}/{prefix}/*"},
        {"Sid": "ListArtifacts", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket_arn,
         "Condition": {"StringLike": {"s3:prefix": [f"{prefix}/*"]}}},
    ]}


def traffic_policy(listener_arn: str) -> dict:
    """Control worker policy for the ``aws`` deployment target: ``ModifyRule`` on the rules of
    ``listener_arn`` (``listener-rule/app/<alb>/<id>/<listener id>/*``: today's gateway rule and the
    per-agent rules added later on the same listener), and the two Describe calls it reads with."""
    rules = listener_arn.replace(":listener/", ":listener-rule/", 1) + "/*"
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "ShiftWeights", "Effect": "Allow", "Action": "elasticloadbalancing:ModifyRule", "Resource": rules},
        {"Sid": "ReadRulesAndTargetGroups", "Effect": "Allow", "Resource": "*",
         "Action": ["elasticloadbalancing:DescribeRules", "elasticloadbalancing:DescribeTargetGroups"]},
    ]}


def version_services_policy(cluster_arn: str, execution_role_arn: str, task_role_arn: str) -> dict:
    """Control worker policy for the ``aws`` target's version services (``prepare_version`` /
    ``retire_version``): services of this cluster only, target groups of this account and region
    (their names are the versions'), task definitions (no resource-level permission), and passing
    exactly the two task roles to ECS tasks."""
    arn = cluster_arn.split(":")
    region, account, cluster = arn[3], arn[4], arn[5].split("/", 1)[1]
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "VersionServices", "Effect": "Allow",
         "Action": ["ecs:CreateService", "ecs:UpdateService", "ecs:DeleteService", "ecs:DescribeServices", "ecs:TagResource"],
         "Resource": f"arn:aws:ecs:{region}:{account}:service/{cluster}/*"},
        {"Sid": "VersionTaskDefinitions", "Effect": "Allow", "Resource": "*",
         "Action": ["ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition", "ecs:DeregisterTaskDefinition",
                    "ecs:ListTaskDefinitions"]},
        {"Sid": "VersionTargetGroups", "Effect": "Allow",
         "Action": ["elasticloadbalancing:CreateTargetGroup", "elasticloadbalancing:DeleteTargetGroup",
                    "elasticloadbalancing:ModifyTargetGroupAttributes", "elasticloadbalancing:AddTags"],
         "Resource": f"arn:aws:elasticloadbalancing:{region}:{account}:targetgroup/*"},
        {"Sid": "PassTaskRoles", "Effect": "Allow", "Action": "iam:PassRole", "Resource": [execution_role_arn, task_role_arn],
         "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}},
    ]}


def create_roles(cfg: ShipwayConfig, secrets: dict[str, aws.secretsmanager.Secret],
                 log_groups: Sequence[aws.cloudwatch.LogGroup], bucket: aws.s3.Bucket, prefix: str,
                 listener: aws.lb.Listener, cluster: aws.ecs.Cluster) -> TaskRoles:
    """Create the three roles with their inline policies (inline: they live and die with the role
    and nothing else can attach them)."""
    trust = json.dumps(assume_role_policy())
    execution = aws.iam.Role(f"{cfg.name}-execution", assume_role_policy=trust,
                             description="ECS pulls Shipway's image, writes its logs, reads its secrets")
    task = aws.iam.Role(f"{cfg.name}-task", assume_role_policy=trust,
                        description="Shipway's processes: artifact bucket read/write")
    control = aws.iam.Role(f"{cfg.name}-control", assume_role_policy=trust,
                           description="Shipway's control worker: artifact bucket, ALB traffic weights")
    ecr_repo = ecr_repository_arn(cfg.image)
    aws.iam.RolePolicy(
        f"{cfg.name}-execution", role=execution.id,
        policy=pulumi.Output.all([s.arn for s in secrets.values()], [g.arn for g in log_groups]).apply(
            lambda a: json.dumps(execution_policy(a[0], a[1], ecr_repo, cfg.secrets_kms_key_arn))))
    artifacts = bucket.arn.apply(lambda arn: json.dumps(task_policy(arn, prefix)))
    aws.iam.RolePolicy(f"{cfg.name}-task", role=task.id, policy=artifacts)
    aws.iam.RolePolicy(f"{cfg.name}-control-artifacts", role=control.id, policy=artifacts)
    aws.iam.RolePolicy(f"{cfg.name}-control-traffic", role=control.id,
                       policy=listener.arn.apply(lambda arn: json.dumps(traffic_policy(arn))))
    aws.iam.RolePolicy(f"{cfg.name}-control-versions", role=control.id,
                       policy=pulumi.Output.all(cluster.arn, execution.arn, task.arn).apply(
                           lambda a: json.dumps(version_services_policy(*a))))
    return TaskRoles(execution=execution, task=task, control=control)
