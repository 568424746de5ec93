"""The ``aws`` deployment target's per-version resources: each agent version runs as its own ECS
service (Fargate, private subnets, no public IP) behind its own ALB target group, so that
:class:`activities.targets.aws_alb.AlbWeights` can split the agent's listener rule between versions.

:class:`VersionServices` creates (:meth:`~VersionServices.ensure`) and removes
(:meth:`~VersionServices.retire`) one version's resources, copying the gateway's task definition
(``infra/shipway_infra/services.py``) and the gateway target group's settings
(``infra/shipway_infra/load_balancer.py``):

- target group ``target_group_name(agent, version)`` (:mod:`activities.targets.aws_alb`): HTTP, target
  type ``ip`` (awsvpc tasks register their IPs), the container port, health check ``GET <path>``
  expecting 200 every 15 s, deregistration delay 60 s;
- task definition family ``<base family>-<agent>-v<version>`` (:func:`task_family`): a copy of the
  base task definition whose container gets extra environment variables (e.g.
  ``SHIPWAY_SERVED_AGENT``/``SHIPWAY_SERVED_VERSION``);
- ECS service ``<agent>-v<version>`` (:func:`service_name`) with the target group in ``loadBalancers``,
  the deployment circuit breaker with rollback on, 100 %/200 % deployment bounds and a 120 s health
  check grace period, like the gateway's service.

Calls are synchronous boto3; run them in a thread from async code. Every step looks before it
writes, so both methods can be repeated after a crash at any point.

Real AWS versus the tests (moto, ``tests/integration/test_aws_versions.py``). Moto stores and
returns these resources but does not model:

- tasks actually running: no Fargate tasks start, no IPs register in the target group, the service's
  ``runningCount`` stays 0 (scaling to 0 and deleting are immediate, there is no ``DRAINING`` state);
- target health checks and the health check grace period;
- deployments: no rolling replacement on a task definition update, no deployment circuit breaker or
  rollback, and it ignores (does not even store) ``deploymentConfiguration``,
  ``healthCheckGracePeriodSeconds`` and ``enableECSManagedTags``;
- ECS's refusal (``InvalidParameterException: The target group ... does not have an associated load
  balancer``) of a target group no listener rule or listener references yet; see
  ``listener_rule_arn`` of :meth:`VersionServices.ensure`;
- IAM: the roles in the task definition are not checked or assumed.

AWS API reference:

- CreateTargetGroup (name: <= 32 of ``[A-Za-z0-9-]``, unique per account and region; idempotent for
  identical settings, else ``DuplicateTargetGroupName``):
  https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html
- DescribeTargetGroups (``TargetGroupNotFound``):
  https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeTargetGroups.html
- ModifyTargetGroup:
  https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_ModifyTargetGroup.html
- ModifyTargetGroupAttributes (``deregistration_delay.timeout_seconds``):
  https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_ModifyTargetGroupAttributes.html
- DeleteTargetGroup (``ResourceInUse`` while an action references the group):
  https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DeleteTargetGroup.html
- DescribeRules / ModifyRule:
  https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_ModifyRule.html
- DescribeTaskDefinition (``include=["TAGS"]``; ``ClientException`` for an unknown one):
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeTaskDefinition.html
- RegisterTaskDefinition (family: <= 255 letters, digits, ``_``, ``-``):
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html
- ListTaskDefinitions / DeregisterTaskDefinition:
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeregisterTaskDefinition.html
- CreateService (name: <= 255 letters, digits, ``_``, ``-``, unique in the cluster;
  ``networkConfiguration.awsvpcConfiguration.assignPublicIp``, ``loadBalancers``, ``deploymentConfiguration``):
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html
- DescribeServices:
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServices.html
- UpdateService:
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html
- DeleteService (``ACTIVE`` -> ``DRAINING`` -> ``INACTIVE``; a new service may not reuse the name of an
  ``ACTIVE`` or ``DRAINING`` one):
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeleteService.html
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from activities.targets.aws_alb import TargetError, target_group_name

ECS_NAME_MAX = 255  # service names and task definition families
# The gateway target group's settings (infra/shipway_infra/load_balancer.py) and service's
# (infra/shipway_infra/services.py).
HEALTH_CHECK = {"HealthCheckProtocol": "HTTP", "HealthCheckIntervalSeconds": 15, "HealthCheckTimeoutSeconds": 5,
                "HealthyThresholdCount": 2, "UnhealthyThresholdCount": 3}
HEALTH_CHECK_MATCHER = "200"
DEREGISTRATION_DELAY_S = "60"
HEALTH_CHECK_GRACE_S = 120
DEPLOYMENT_CONFIGURATION = {"deploymentCircuitBreaker": {"enable": True, "rollback": True},
                            "minimumHealthyPercent": 100, "maximumPercent": 200}
# RegisterTaskDefinition parameters copied from the base task definition (DescribeTaskDefinition
# also returns read-only fields: ARN, revision, status, compatibilities, registeredAt, ...).
COPIED_TASK_FIELDS = ("taskRoleArn", "executionRoleArn", "networkMode", "containerDefinitions", "volumes",
                      "placementConstraints", "requiresCompatibilities", "cpu", "memory", "pidMode", "ipcMode",
                      "proxyConfiguration", "inferenceAccelerators", "ephemeralStorage", "runtimePlatform",
                      "enableFaultInjection")
TAG_AGENT, TAG_VERSION, TAG_SPEC = "shipway:agent", "shipway:version", "shipway:spec-sha256"


class ServiceError(TargetError):
    """AWS refused or failed a call on a version's ECS service, task definition or target group, or
    found one in a state :class:`VersionServices` cannot proceed from.

    A :class:`~activities.targets.aws_alb.TargetError`, so code handling the ``aws`` target's errors
    handles these too.

    Attributes:
        resource: the service name, task definition family or target group name/ARN (also as
            ``rule_arn``, the attribute :class:`TargetError` has).
        operation: the API operation (``CreateService``, ``DeleteTargetGroup``, ...).
        code: AWS's error code (``ClientException``, ``InvalidParameterException``,
            ``AccessDeniedException``, ...) or one of this module's: ``TargetGroupMismatch`` (a group
            of that name exists with another VPC, port, protocol or target type),
            ``ServiceMismatch`` (a service of that name exists without the version's target group),
            ``ServiceDraining`` (the previous service of that name is still being deleted; retry),
            ``TrafficStillForwarded`` (retire of a version the listener rule still sends traffic to).
    """

    def __init__(self, resource: str, operation: str, code: str, message: str) -> None:
        RuntimeError.__init__(self, f"{operation} on {resource} failed: {code}: {message}")
        self.resource = self.rule_arn = resource
        self.operation, self.code = operation, code


@dataclass(frozen=True)
class EcsVersionConfig:
    """Where and how version services run; normally the gateway's settings from the Pulumi stack.

    Attributes:
        cluster: ECS cluster name or ARN.
        base_task_definition: family (its latest ACTIVE revision), ``family:revision`` or ARN of the
            task definition to copy (the gateway's); it must use network mode ``awsvpc``.
        container_name: the container receiving the ALB's traffic and the extra environment.
        container_port: its port (the gateway's 8080), also the target group's port.
        vpc_id: the ALB's VPC, for the target groups.
        subnets: private subnets for the tasks (no public IP is assigned).
        security_groups: the tasks' security groups (the gateway's, which the ALB may reach).
        desired_count: tasks per new service; an existing service's count is left to auto-scaling.
        health_check_path: the ALB health check path (the gateway's ``/healthz``).
    """

    cluster: str
    base_task_definition: str
    container_name: str
    container_port: int
    vpc_id: str
    subnets: list[str]
    security_groups: list[str]
    desired_count: int = 2
    health_check_path: str = "/healthz"


def _ecs_name(stem: str, version: int) -> str:
    """``<stem>-v<version>`` if that is a valid ECS name (<= 255 of ``[A-Za-z0-9_-]``); otherwise the
    stem with every run of other characters turned into one hyphen, truncated, plus ``-<8 hex>`` of
    its SHA-256 so different stems cannot end up with the same name."""
    if version < 0:
        raise ValueError(f"version must be >= 0, got {version}")
    suffix = f"-v{version}"
    clean = re.sub(r"[^A-Za-z0-9_-]+", "-", stem)
    if clean == stem and len(stem) + len(suffix) <= ECS_NAME_MAX:
        return stem + suffix
    tag = "-" + hashlib.sha256(stem.encode()).hexdigest()[:8]
    return clean[:ECS_NAME_MAX - len(tag) - len(suffix)] + tag + suffix


def service_name(agent: str, version: int) -> str:
    """The version's ECS service name: ``<agent>-v<version>``, e.g. ``support-triage-v3`` (Shipway
    agent names always fit; others are made valid as :func:`task_family` describes).

    Raises:
        ValueError: ``version`` is negative.
    """
    return _ecs_name(agent, version)


def task_family(base_family: str, agent: str, version: int) -> str:
    """The version's task definition family: ``<base family>-<agent>-v<version>``, e.g.
    ``shipway-gateway-support-triage-v3``. If that is longer than 255 characters or has characters
    ECS does not allow, the invalid runs become ``-`` and the text is cut to fit with ``-<8 hex>`` (a
    hash of ``<base family>-<agent>``) before ``-v<version>``.

    Raises:
        ValueError: ``version`` is negative.
    """
    return _ecs_name(f"{base_family}-{agent}", version)


def base_family(task_definition: str) -> str:
    """The family of a task definition given as ``family``, ``family:revision`` or ARN
    (``arn:aws:ecs:<region>:<account>:task-definition/<family>:<revision>``)."""
    return task_definition.rsplit("/", 1)[-1].split(":", 1)[0]


class VersionServices:
    """Creates and removes the ECS service, task definition and ALB target group of agent versions.

    Tags ``shipway:agent`` and ``shipway:version`` go on all three; task definitions also carry
    ``shipway:spec-sha256``, the hash of their RegisterTaskDefinition input, which is how an existing
    revision is recognised as the one wanted.
    """

    def __init__(self, config: EcsVersionConfig, *, ecs: Any = None, elbv2: Any = None, region: str | None = None,
                 endpoint_url: str | None = None) -> None:
        """Use the boto3 clients ``ecs`` and ``elbv2``, or build the missing ones for
        ``region``/``endpoint_url`` with boto3's usual credential chain."""
        if ecs is None or elbv2 is None:
            import boto3

            ecs = ecs or boto3.client("ecs", region_name=region, endpoint_url=endpoint_url)
            elbv2 = elbv2 or boto3.client("elbv2", region_name=region, endpoint_url=endpoint_url)
        self.config, self.ecs, self.elbv2 = config, ecs, elbv2

    # ---------------------------------------------------------------------------------------------
    # ensure

    def ensure(self, agent: str, version: int, environment: Mapping[str, str], *,
               listener_rule_arn: str | None = None) -> str:
        """Create what is missing of the version's target group, task definition and ECS service,
        and return the target group's ARN.

        Order: the base task definition is read and checked (a ValueError leaves nothing behind),
        then target group, task definition, (the group's weight-0 entry in the listener rule) and
        service, each found before it is created, so a repeated call after a crash at any point completes the
        job and a call with nothing missing only reads (Describe* calls).

        - Target group: created if no group has its name; an existing one must have the configured
          VPC, port, HTTP and target type ``ip`` (these cannot change) and gets its health check and
          deregistration delay corrected if they differ.
        - Task definition: the base task definition (DescribeTaskDefinition) with cpu, memory, roles,
          network mode, compatibilities, runtime platform, volumes and container definitions kept,
          and the container ``container_name``'s environment updated with ``environment`` (values of
          the same name replaced, the list sorted by name). A new revision is registered only if the
          family's latest ACTIVE revision has other content, e.g. the base task definition got a
          new image or ``environment`` changed.
        - Service: created (Fargate, ``desired_count`` tasks, ``assignPublicIp=DISABLED``, the target
          group in ``loadBalancers``) if there is none or only an ``INACTIVE`` one of its name; an
          ``ACTIVE`` one with the target group is kept (its task count too) and moved to the task
          definition by UpdateService if it runs another one.

        Real AWS refuses CreateService with a target group that no listener or rule of a load
        balancer references yet; moto does not. Pass the agent's ``listener_rule_arn`` and, just
        before the service is created, the group is added to the rule's forward action with weight
        0 unless the rule has it already (other groups' weights and the stickiness are kept, so no
        traffic moves); or reference the group from a rule yourself before calling this. Once the
        service exists the rule is not touched: :meth:`AlbWeights.apply` drops weight-0 groups from
        the rule again, which the running service does not mind.

        Args:
            agent: the agent's name.
            version: the version number (>= 0).
            environment: variables for the container, e.g. ``{"SHIPWAY_SERVED_AGENT": agent,
                "SHIPWAY_SERVED_VERSION": str(version)}``.
            listener_rule_arn: the agent's listener rule (see above), or None.

        Returns:
            The target group's ARN (its name is ``target_group_name(agent, version)``).

        Raises:
            ValueError: negative ``version``; non-string environment values; the base task definition
                not ``awsvpc``, without the container, or the container without a port mapping for
                ``container_port``; the listener rule without a forward action.
            ServiceError: AWS refused or failed a call (e.g. ``ClientException`` for an unknown base
                task definition, ``TargetGroupNotFound``/``RuleNotFound``), or ``TargetGroupMismatch``,
                ``ServiceMismatch``, ``ServiceDraining`` (the service of that name is still being
                deleted after :meth:`retire`; retry later).
        """
        bad = {k: v for k, v in environment.items() if not isinstance(k, str) or not isinstance(v, str)}
        if bad:
            raise ValueError(f"environment names and values must be strings, got {bad}")
        name = service_name(agent, version)
        spec = self._task_definition_spec(agent, version, environment)  # validates before anything is created
        group_arn = self._ensure_target_group(agent, version)
        task_definition_arn = self._ensure_task_definition(agent, version, spec)
        self._ensure_service(name, agent, version, group_arn, task_definition_arn, listener_rule_arn)
        return group_arn

    def _tags(self, agent: str, version: int) -> list[dict[str, str]]:
        return [{"key": TAG_AGENT, "value": agent}, {"key": TAG_VERSION, "value": str(version)}]

    def _find_target_group(self, name: str) -> dict[str, Any] | None:
        try:
            groups = self.elbv2.describe_target_groups(Names=[name])["TargetGroups"]
        except ClientError as exc:
            if _code(exc) == "TargetGroupNotFound":
                return None
            raise _error(name, "DescribeTargetGroups", exc) from exc
        return groups[0] if groups else None

    def _ensure_target_group(self, agent: str, version: int) -> str:
        cfg, name = self.config, target_group_name(agent, version)
        group = self._find_target_group(name)
        if group is None:
            try:
                group = self.elbv2.create_target_group(
                    Name=name, Protocol="HTTP", Port=cfg.container_port, VpcId=cfg.vpc_id, TargetType="ip",
                    HealthCheckEnabled=True, HealthCheckPath=cfg.health_check_path, **HEALTH_CHECK,
                    Matcher={"HttpCode": HEALTH_CHECK_MATCHER},
                    Tags=[{"Key": t["key"], "Value": t["value"]} for t in self._tags(agent, version)],
                )["TargetGroups"][0]
            except ClientError as exc:
                # created meanwhile with other settings (CreateTargetGroup returns an identical existing one)
                group = self._find_target_group(name) if _code(exc) == "DuplicateTargetGroupName" else None
                if group is None:
                    raise _error(name, "CreateTargetGroup", exc) from exc
        arn = group["TargetGroupArn"]
        fixed = {"VpcId": cfg.vpc_id, "Port": cfg.container_port, "Protocol": "HTTP", "TargetType": "ip"}
        wrong = {k: group.get(k) for k, v in fixed.items() if group.get(k) != v}
        if wrong:
            raise ServiceError(name, "CreateTargetGroup", "TargetGroupMismatch",
                               f"target group {arn} exists with {wrong}, expected {fixed}")
        health = {**HEALTH_CHECK, "HealthCheckPath": cfg.health_check_path}
        if any(group.get(k) != v for k, v in health.items()) or \
                group.get("Matcher", {}).get("HttpCode") != HEALTH_CHECK_MATCHER:
            _call(name, "ModifyTargetGroup", self.elbv2.modify_target_group, TargetGroupArn=arn,
                  HealthCheckEnabled=True, Matcher={"HttpCode": HEALTH_CHECK_MATCHER}, **health)
        attributes = _call(name, "DescribeTargetGroupAttributes", self.elbv2.describe_target_group_attributes,
                           TargetGroupArn=arn)["Attributes"]
        delay = {a["Key"]: a["Value"] for a in attributes}.get("deregistration_delay.timeout_seconds")
        if delay != DEREGISTRATION_DELAY_S:
            _call(name, "ModifyTargetGroupAttributes", self.elbv2.modify_target_group_attributes, TargetGroupArn=arn,
                  Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": DEREGISTRATION_DELAY_S}])
        return arn

    def _reference_from_rule(self, rule_arn: str, group_arn: str) -> None:
        """Add ``group_arn`` to the rule's forward action with weight 0 unless the rule has it."""
        rule = _call(rule_arn, "DescribeRules", self.elbv2.describe_rules, RuleArns=[rule_arn])["Rules"][0]
        actions = [_writable_action(a) for a in rule["Actions"]]
        forwards = [a for a in actions if a["Type"] == "forward"]
        if not forwards:
            raise ValueError(f"listener rule {rule_arn} has no forward action to add target group {group_arn} to")
        forward = forwards[0]
        if "ForwardConfig" not in forward:
            # a plain forward: the same traffic as a weighted forward with that one group
            only = forward.pop("TargetGroupArn")
            forward["ForwardConfig"] = {"TargetGroups": [{"TargetGroupArn": only, "Weight": 1}]}
        groups = forward["ForwardConfig"]["TargetGroups"]
        if any(g["TargetGroupArn"] == group_arn for g in groups):
            return
        groups.append({"TargetGroupArn": group_arn, "Weight": 0})
        _call(rule_arn, "ModifyRule", self.elbv2.modify_rule, RuleArn=rule_arn, Actions=actions)

    def _task_definition_spec(self, agent: str, version: int, environment: Mapping[str, str]) -> dict[str, Any]:
        """The RegisterTaskDefinition input of the version's task definition (without tags)."""
        cfg = self.config
        base = _call(cfg.base_task_definition, "DescribeTaskDefinition", self.ecs.describe_task_definition,
                     taskDefinition=cfg.base_task_definition)["taskDefinition"]
        if base.get("networkMode") != "awsvpc":
            raise ValueError(f"base task definition {base['taskDefinitionArn']} has network mode "
                             f"{base.get('networkMode')!r}; Fargate services behind an ip target group need 'awsvpc'")
        spec = {k: copy.deepcopy(base[k]) for k in COPIED_TASK_FIELDS if base.get(k) is not None}
        containers = [c for c in spec["containerDefinitions"] if c["name"] == cfg.container_name]
        if not containers:
            raise ValueError(f"base task definition {base['taskDefinitionArn']} has no container "
                             f"{cfg.container_name!r}")
        container = containers[0]
        ports = [p.get("containerPort") for p in container.get("portMappings", [])]
        if cfg.container_port not in ports:
            raise ValueError(f"container {cfg.container_name!r} of {base['taskDefinitionArn']} maps ports {ports}, "
                             f"not {cfg.container_port}")
        env = {e["name"]: e["value"] for e in container.get("environment", [])}
        env.update(environment)
        container["environment"] = [{"name": k, "value": v} for k, v in sorted(env.items())]
        spec["family"] = task_family(base["family"], agent, version)
        return spec

    def _ensure_task_definition(self, agent: str, version: int, spec: dict[str, Any]) -> str:
        """The ARN of the family's latest ACTIVE revision if it was registered from ``spec``, else of
        a new revision registered from it."""
        family = spec["family"]
        digest = hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()
        try:
            latest = self.ecs.describe_task_definition(taskDefinition=family, include=["TAGS"])
        except ClientError as exc:
            if _code(exc) != "ClientException":  # the family has no ACTIVE revision
                raise _error(family, "DescribeTaskDefinition", exc) from exc
        else:
            if latest["taskDefinition"].get("status", "ACTIVE") == "ACTIVE" and \
                    {t["key"]: t["value"] for t in latest.get("tags", [])}.get(TAG_SPEC) == digest:
                return latest["taskDefinition"]["taskDefinitionArn"]
        registered = _call(family, "RegisterTaskDefinition", self.ecs.register_task_definition, **spec,
                           tags=[*self._tags(agent, version), {"key": TAG_SPEC, "value": digest}])
        return registered["taskDefinition"]["taskDefinitionArn"]

    def _describe_service(self, name: str) -> dict[str, Any] | None:
        """The service of that name in the cluster (any status), or None if ECS has no record of it."""
        described = _call(name, "DescribeServices", self.ecs.describe_services, cluster=self.config.cluster,
                          services=[name])
        return described["services"][0] if described["services"] else None

    def _ensure_service(self, name: str, agent: str, version: int, group_arn: str, task_definition_arn: str,
                        listener_rule_arn: str | None) -> None:
        cfg = self.config
        for attempt in range(2):
            service = self._describe_service(name)
            status = service["status"] if service else "INACTIVE"
            if status == "ACTIVE":
                break
            if status == "DRAINING":
                raise ServiceError(name, "CreateService", "ServiceDraining",
                                   "the service of this name is still being deleted; retry once it is INACTIVE")
            if listener_rule_arn is not None:
                self._reference_from_rule(listener_rule_arn, group_arn)
            try:
                self.ecs.create_service(
                    cluster=cfg.cluster, serviceName=name, taskDefinition=task_definition_arn,
                    desiredCount=cfg.desired_count, launchType="FARGATE",
                    networkConfiguration={"awsvpcConfiguration": {
                        "subnets": list(cfg.subnets), "securityGroups": list(cfg.security_groups),
                        "assignPublicIp": "DISABLED"}},
                    loadBalancers=[{"targetGroupArn": group_arn, "containerName": cfg.container_name,
                                    "containerPort": cfg.container_port}],
                    healthCheckGracePeriodSeconds=HEALTH_CHECK_GRACE_S,
                    deploymentConfiguration=DEPLOYMENT_CONFIGURATION,
                    enableECSManagedTags=True, propagateTags="SERVICE", tags=self._tags(agent, version))
                return
            except ClientError as exc:
                # another caller may have created it meanwhile: look again once
                if attempt:
                    raise _error(name, "CreateService", exc) from exc
        if not any(lb.get("targetGroupArn") == group_arn for lb in service.get("loadBalancers", [])):
            raise ServiceError(name, "CreateService", "ServiceMismatch",
                               f"service exists with load balancers {service.get('loadBalancers')}, "
                               f"not target group {group_arn}")
        if service.get("taskDefinition") != task_definition_arn:
            _call(name, "UpdateService", self.ecs.update_service, cluster=cfg.cluster, service=name,
                  taskDefinition=task_definition_arn)

    # ---------------------------------------------------------------------------------------------
    # retire

    def retire(self, agent: str, version: int, *, listener_rule_arn: str | None = None) -> None:
        """Remove the version's service, its task definition revisions and, if no listener rule
        references it any more, its target group. Idempotent: whatever is already gone is skipped.

        1. Service ``service_name(agent, version)``: if ``ACTIVE``, scaled to 0 (UpdateService) and
           deleted (DeleteService with ``force``). ECS stops its tasks in the background (the
           service is ``DRAINING``, then ``INACTIVE``).
        2. Task definition revisions of ``task_family(...)``: deregistered (they stay describable as
           ``INACTIVE``).
        3. Target group: deleted; if AWS refuses because an action still references it
           (``ResourceInUse``), it is left and this returns normally: call again once
           :meth:`AlbWeights.apply` has removed the version from the rule.

        Move the version's traffic elsewhere first: the service is deleted whatever the rule says.
        With ``listener_rule_arn`` (the agent's rule) that is checked before anything is touched,
        and a weight-0 entry of the group in that rule (as :meth:`ensure` adds) is removed so the
        group can be deleted.

        Raises:
            ValueError: negative ``version``.
            ServiceError: AWS refused or failed a call other than the tolerated ones (not found,
                ``ResourceInUse`` on the target group), or ``TrafficStillForwarded``: the listener
                rule gives the version's group a positive weight (nothing was changed).
        """
        name, group_name = service_name(agent, version), target_group_name(agent, version)
        group = self._find_target_group(group_name)
        if group is not None and listener_rule_arn is not None:
            self._unreference_from_rule(listener_rule_arn, group["TargetGroupArn"])

        service = self._describe_service(name)
        if service is not None and service["status"] == "ACTIVE":
            cluster = self.config.cluster
            try:
                if service.get("desiredCount", 0) > 0:
                    self.ecs.update_service(cluster=cluster, service=name, desiredCount=0)
                self.ecs.delete_service(cluster=cluster, service=name, force=True)
            except ClientError as exc:
                if _code(exc) not in ("ServiceNotFoundException", "ServiceNotActiveException"):
                    raise _error(name, exc.operation_name, exc) from exc

        family = task_family(base_family(self.config.base_task_definition), agent, version)
        paginator = self.ecs.get_paginator("list_task_definitions")
        try:
            arns = [arn for page in paginator.paginate(familyPrefix=family, status="ACTIVE")
                    for arn in page["taskDefinitionArns"]]
        except ClientError as exc:
            raise _error(family, "ListTaskDefinitions", exc) from exc
        for arn in arns:
            if base_family(arn) == family:  # familyPrefix also matches longer families (…-v1 and …-v10)
                _call(family, "DeregisterTaskDefinition", self.ecs.deregister_task_definition, taskDefinition=arn)

        if group is not None:
            try:
                self.elbv2.delete_target_group(TargetGroupArn=group["TargetGroupArn"])
            except ClientError as exc:
                if _code(exc) not in ("ResourceInUse", "TargetGroupNotFound"):
                    raise _error(group_name, "DeleteTargetGroup", exc) from exc

    def _unreference_from_rule(self, rule_arn: str, group_arn: str) -> None:
        """Refuse if the rule forwards to ``group_arn`` with a positive weight; drop a weight-0 entry."""
        rule = _call(rule_arn, "DescribeRules", self.elbv2.describe_rules, RuleArns=[rule_arn])["Rules"][0]
        actions = [_writable_action(a) for a in rule["Actions"]]
        changed = False
        for action in actions:
            if action["Type"] != "forward":
                continue
            if "ForwardConfig" not in action:
                if action.get("TargetGroupArn") == group_arn:
                    raise ServiceError(rule_arn, "Retire", "TrafficStillForwarded",
                                       f"the rule forwards all traffic to target group {group_arn}")
                continue
            groups = action["ForwardConfig"]["TargetGroups"]
            for g in groups:
                if g["TargetGroupArn"] == group_arn and g.get("Weight", 1) > 0:
                    raise ServiceError(rule_arn, "Retire", "TrafficStillForwarded", f"the rule forwards to "
                                       f"target group {group_arn} with weight {g.get('Weight', 1)}")
            kept = [g for g in groups if g["TargetGroupArn"] != group_arn]
            if len(kept) != len(groups) and kept:  # never leave a forward action without a group
                action["ForwardConfig"]["TargetGroups"] = kept
                changed = True
        if changed:
            _call(rule_arn, "ModifyRule", self.elbv2.modify_rule, RuleArn=rule_arn, Actions=actions)


def _writable_action(action: dict[str, Any]) -> dict[str, Any]:
    """A DescribeRules action as ModifyRule accepts it back: a weighted forward without the
    ``TargetGroupArn`` AWS may also report (both together must name the same single group)."""
    action = copy.deepcopy(action)
    if action["Type"] == "forward" and "ForwardConfig" in action:
        action.pop("TargetGroupArn", None)
    return action


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "Unknown")


def _error(resource: str, operation: str, exc: ClientError) -> ServiceError:
    return ServiceError(resource, operation, _code(exc), exc.response.get("Error", {}).get("Message", str(exc)))


def _call(resource: str, operation: str, method: Callable[..., dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    """``method(**kwargs)``, with an AWS error turned into a :class:`ServiceError` naming ``resource``."""
    try:
        return method(**kwargs)
    except ClientError as exc:
        raise _error(resource, operation, exc) from exc
