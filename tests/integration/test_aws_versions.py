"""The ``aws`` target's per-version ECS services and target groups
(:mod:`activities.targets.aws_ecs`) with boto3 against moto in server mode on loopback: a VPC with
private subnets and a security group, an internal ALB with a listener, an ECS cluster and a gateway
task definition to copy.

Moto stores and returns the resources only; it does not run tasks, check target health, roll out
deployments (nor store the circuit breaker settings: the tests read those from the request), model
``DRAINING`` services, or refuse a target group no rule references. See the module docstring of
:mod:`activities.targets.aws_ecs`.
"""

from __future__ import annotations

import itertools

import pytest

from activities.targets.aws_alb import AlbWeights, AwsTarget, TargetError, target_group_name
from activities.targets.aws_ecs import (
    EcsVersionConfig,
    ServiceError,
    VersionServices,
    base_family,
    service_name,
    task_family,
)
from tests.support.moto_alb import REGION, MotoAlb, moto_alb

ACCOUNT = "123456789012"
CLUSTER = "shipway"
BASE_FAMILY = "shipway-gateway"
CONTAINER, PORT = "gateway", 8080
BASE_ENV = [{"name": "SHIPWAY_AWS_REGION", "value": REGION}, {"name": "TEMPORAL_ADDRESS", "value": "temporal:7233"},
            {"name": "SHIPWAY_SERVED_VERSION", "value": "base"}]
_agents = (f"agent-{i}" for i in itertools.count(1))
_priorities = itertools.count(10)
READS = ("Describe", "List")


def served(agent: str, version: int) -> dict[str, str]:
    return {"SHIPWAY_SERVED_AGENT": agent, "SHIPWAY_SERVED_VERSION": str(version)}


@pytest.fixture(scope="module")
def aws():
    """A moto server on a free loopback port with a VPC (two private subnets, a task security
    group), an internal ALB with an HTTP listener and the gateway's target group, an ECS cluster and
    the gateway's task definition (awsvpc, Fargate, one container with environment and a secret)."""
    with moto_alb() as stand_in:
        yield _with_ecs(stand_in)


def _with_ecs(stand_in: MotoAlb) -> dict:
    """The stand-in plus a task security group, the gateway's target group, the cluster and the base task definition."""
    ec2, elbv2, ecs = stand_in.client("ec2"), stand_in.client("elbv2"), stand_in.client("ecs")
    vpc, subnets, listener = stand_in.vpc, stand_in.subnets, stand_in.listener
    sg = ec2.create_security_group(GroupName="shipway-tasks", Description="tasks", VpcId=vpc)["GroupId"]
    gateway_group = elbv2.create_target_group(Name="shipway-gw", Protocol="HTTP", Port=PORT, VpcId=vpc,
                                              TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    ecs.create_cluster(clusterName=CLUSTER)
    base = ecs.register_task_definition(
        family=BASE_FAMILY, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="1024", memory="2048",
        executionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/shipway-execution",
        taskRoleArn=f"arn:aws:iam::{ACCOUNT}:role/shipway-task",
        runtimePlatform={"operatingSystemFamily": "LINUX", "cpuArchitecture": "ARM64"},
        containerDefinitions=[{
            "name": CONTAINER, "image": "registry.example/shipway:1.4.0", "essential": True,
            "command": ["shipway", "gateway", "--host", "0.0.0.0", "--port", str(PORT)],
            "portMappings": [{"containerPort": PORT, "protocol": "tcp"}],
            "environment": BASE_ENV,
            "secrets": [{"name": "SHIPWAY_DATABASE_URL",
                         "valueFrom": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:shipway-db"}],
            "stopTimeout": 30,
        }],
    )["taskDefinition"]
    config = EcsVersionConfig(cluster=CLUSTER, base_task_definition=BASE_FAMILY, container_name=CONTAINER,
                              container_port=PORT, vpc_id=vpc, subnets=subnets, security_groups=[sg])
    return {"ec2": ec2, "elbv2": elbv2, "ecs": ecs, "vpc": vpc, "subnets": subnets, "sg": sg, "listener": listener,
            "gateway_group": gateway_group, "base": base, "config": config}


@pytest.fixture
def agent():
    """A fresh agent name, so tests sharing the moto server do not see each other's versions."""
    return next(_agents)


@pytest.fixture
def calls(aws):
    """The API operations the test's clients send, in order (cleared by ``calls.clear()``)."""
    sent: list[str] = []

    def record(model, **_):
        sent.append(model.name)

    for client in (aws["ecs"], aws["elbv2"]):
        client.meta.events.register("before-call", record)
    yield sent
    for client in (aws["ecs"], aws["elbv2"]):
        client.meta.events.unregister("before-call", record)


@pytest.fixture
def versions(aws) -> VersionServices:
    return VersionServices(aws["config"], ecs=aws["ecs"], elbv2=aws["elbv2"])


def _rule(aws, agent: str, group_arn: str) -> str:
    """A listener rule for the agent forwarding everything to ``group_arn``."""
    return aws["elbv2"].create_rule(
        ListenerArn=aws["listener"], Priority=next(_priorities),
        Conditions=[{"Field": "path-pattern", "Values": [f"/agents/{agent}/*"]}],
        Actions=[{"Type": "forward",
                  "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": group_arn, "Weight": 100}]}}],
    )["Rules"][0]["RuleArn"]


def _service(aws, agent: str, version: int) -> dict | None:
    described = aws["ecs"].describe_services(cluster=CLUSTER, services=[service_name(agent, version)])["services"]
    return described[0] if described else None


def _group(aws, agent: str, version: int) -> dict | None:
    try:
        return aws["elbv2"].describe_target_groups(Names=[target_group_name(agent, version)])["TargetGroups"][0]
    except aws["elbv2"].exceptions.TargetGroupNotFoundException:
        return None


def _revisions(aws, agent: str, version: int, status: str = "ACTIVE") -> list[str]:
    family = task_family(BASE_FAMILY, agent, version)
    arns = aws["ecs"].list_task_definitions(familyPrefix=family, status=status)["taskDefinitionArns"]
    return [a for a in arns if base_family(a) == family]


def _forward(aws, rule: str) -> dict[str, int]:
    (action,) = aws["elbv2"].describe_rules(RuleArns=[rule])["Rules"][0]["Actions"]
    return {g["TargetGroupArn"]: g["Weight"] for g in action["ForwardConfig"]["TargetGroups"]}


def test_ensure_creates_the_target_group_task_definition_and_service(aws, versions, agent, calls):
    requests = []
    aws["ecs"].meta.events.register("provide-client-params.ecs.CreateService",
                                    lambda params, **_: requests.append(params))
    arn = versions.ensure(agent, 1, served(agent, 1))

    group = _group(aws, agent, 1)
    assert group["TargetGroupArn"] == arn
    assert (group["TargetType"], group["Protocol"], group["Port"], group["VpcId"]) == ("ip", "HTTP", PORT, aws["vpc"])
    assert (group["HealthCheckPath"], group["Matcher"]["HttpCode"]) == ("/healthz", "200")
    attributes = {a["Key"]: a["Value"] for a in
                  aws["elbv2"].describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]}
    assert attributes["deregistration_delay.timeout_seconds"] == "60"

    service = _service(aws, agent, 1)
    assert service["serviceName"] == f"{agent}-v1" and service["status"] == "ACTIVE"
    assert (service["launchType"], service["desiredCount"]) == ("FARGATE", 2)
    assert service["networkConfiguration"] == {"awsvpcConfiguration": {
        "subnets": aws["subnets"], "securityGroups": [aws["sg"]], "assignPublicIp": "DISABLED"}}
    assert service["loadBalancers"] == [{"targetGroupArn": arn, "containerName": CONTAINER, "containerPort": PORT}]
    # moto does not store these; the request carried them
    (request,) = requests
    assert request["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert request["healthCheckGracePeriodSeconds"] == 120

    definition = aws["ecs"].describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    base = aws["base"]
    assert definition["family"] == f"{BASE_FAMILY}-{agent}-v1"
    for field in ("cpu", "memory", "networkMode", "requiresCompatibilities", "executionRoleArn", "taskRoleArn",
                  "runtimePlatform"):
        assert definition[field] == base[field], field
    (container,) = definition["containerDefinitions"]
    (base_container,) = base["containerDefinitions"]
    assert {k: v for k, v in container.items() if k != "environment"} == \
        {k: v for k, v in base_container.items() if k != "environment"}
    assert container["environment"] == sorted(
        [{"name": "SHIPWAY_AWS_REGION", "value": REGION}, {"name": "TEMPORAL_ADDRESS", "value": "temporal:7233"},
         {"name": "SHIPWAY_SERVED_AGENT", "value": agent}, {"name": "SHIPWAY_SERVED_VERSION", "value": "1"}],
        key=lambda e: e["name"])

    # the base task definition is untouched
    latest_base = aws["ecs"].describe_task_definition(taskDefinition=BASE_FAMILY)["taskDefinition"]
    assert latest_base["revision"] == base["revision"]


def test_ensure_again_only_reads_and_returns_the_same_arn(aws, versions, agent, calls):
    arn = versions.ensure(agent, 1, served(agent, 1))
    before = (_service(aws, agent, 1), _group(aws, agent, 1), _revisions(aws, agent, 1))
    calls.clear()
    assert versions.ensure(agent, 1, served(agent, 1)) == arn
    assert calls == ["DescribeTaskDefinition", "DescribeTargetGroups", "DescribeTargetGroupAttributes",
                     "DescribeTaskDefinition", "DescribeServices"]
    assert (_service(aws, agent, 1), _group(aws, agent, 1), _revisions(aws, agent, 1)) == before
    assert len(before[2]) == 1


def test_ensure_completes_after_a_crash_before_the_service(aws, versions, agent):
    class Crash(Exception):
        pass

    class CrashingEcs:
        def __init__(self, client):
            self.client = client

        def __getattr__(self, name):
            return getattr(self.client, name)

        def create_service(self, **kwargs):
            raise Crash

    crashing = VersionServices(aws["config"], ecs=CrashingEcs(aws["ecs"]), elbv2=aws["elbv2"])
    with pytest.raises(Crash):
        crashing.ensure(agent, 1, served(agent, 1))
    group, revisions = _group(aws, agent, 1), _revisions(aws, agent, 1)
    assert group is not None and len(revisions) == 1 and _service(aws, agent, 1) is None

    assert versions.ensure(agent, 1, served(agent, 1)) == group["TargetGroupArn"]
    assert _revisions(aws, agent, 1) == revisions  # the registered revision is reused
    assert _service(aws, agent, 1)["taskDefinition"] == revisions[0]


def test_a_changed_environment_moves_the_service_to_a_new_revision(aws, versions, agent, calls):
    arn = versions.ensure(agent, 1, served(agent, 1))
    first = _service(aws, agent, 1)["taskDefinition"]
    calls.clear()
    assert versions.ensure(agent, 1, {**served(agent, 1), "SHIPWAY_LOG_LEVEL": "debug"}) == arn
    assert "RegisterTaskDefinition" in calls and "UpdateService" in calls and "CreateService" not in calls
    second = _service(aws, agent, 1)["taskDefinition"]
    assert second != first and len(_revisions(aws, agent, 1)) == 2
    (container,) = aws["ecs"].describe_task_definition(taskDefinition=second)["taskDefinition"]["containerDefinitions"]
    assert {"name": "SHIPWAY_LOG_LEVEL", "value": "debug"} in container["environment"]


def test_two_versions_get_their_own_services_and_groups_and_share_the_agents_rule(aws, versions, agent):
    groups = {v: versions.ensure(agent, v, served(agent, v)) for v in (1, 2)}
    assert groups[1] != groups[2]
    services = {v: _service(aws, agent, v) for v in (1, 2)}
    assert services[1]["serviceArn"] != services[2]["serviceArn"]
    assert services[1]["taskDefinition"] != services[2]["taskDefinition"]
    for v in (1, 2):
        assert services[v]["loadBalancers"][0]["targetGroupArn"] == groups[v]

    rule = _rule(aws, agent, groups[1])
    target = AwsTarget(AlbWeights(aws["elbv2"]), {agent: rule})
    assert target.apply(agent, {1: 90.0, 2: 10.0}) == {1: 90, 2: 10}
    assert AlbWeights(aws["elbv2"]).current(rule) == {groups[1]: 90, groups[2]: 10}


def test_a_rollout_from_ensure_to_retire(aws, versions, agent, calls):
    """The agent's rule starts on the gateway's group; each new version's group joins it at weight 0
    before its service exists (as real ECS requires), takes traffic through AwsTarget, and retire
    removes the old version once the rule no longer sends it anything."""
    rule = _rule(aws, agent, aws["gateway_group"])
    target = AwsTarget(AlbWeights(aws["elbv2"]), {agent: rule})
    v1 = versions.ensure(agent, 1, served(agent, 1), listener_rule_arn=rule)
    assert _forward(aws, rule) == {aws["gateway_group"]: 100, v1: 0}
    target.apply(agent, {1: 100.0})
    v2 = versions.ensure(agent, 2, served(agent, 2), listener_rule_arn=rule)
    assert _forward(aws, rule) == {v1: 100, v2: 0}
    stickiness = aws["elbv2"].describe_rules(RuleArns=[rule])["Rules"][0]["Actions"][0]["ForwardConfig"][
        "TargetGroupStickinessConfig"]
    assert stickiness == {"Enabled": True, "DurationSeconds": 3600}  # kept by the weight-0 insert
    target.apply(agent, {1: 90.0, 2: 10.0})

    # v1 still has traffic: retire with the rule refuses and touches nothing
    with pytest.raises(ServiceError) as refused:
        versions.retire(agent, 1, listener_rule_arn=rule)
    assert refused.value.code == "TrafficStillForwarded" and isinstance(refused.value, TargetError)
    assert _service(aws, agent, 1)["status"] == "ACTIVE" and _group(aws, agent, 1) is not None

    target.apply(agent, {1: 0.0, 2: 100.0})
    calls.clear()  # with the services in place, ensure leaves the rule alone (v1 is out of it now)
    assert versions.ensure(agent, 1, served(agent, 1), listener_rule_arn=rule) == v1
    assert calls and all(op.startswith(READS) for op in calls) and "DescribeRules" not in calls, calls
    assert _forward(aws, rule) == {v2: 100}
    versions.retire(agent, 1, listener_rule_arn=rule)
    retired = _service(aws, agent, 1)
    assert (retired["status"], retired["desiredCount"]) == ("INACTIVE", 0)
    assert _group(aws, agent, 1) is None and _revisions(aws, agent, 1) == []
    assert _forward(aws, rule) == {v2: 100}

    calls.clear()
    versions.retire(agent, 1, listener_rule_arn=rule)  # again: nothing left to do
    assert calls and all(op.startswith(READS) for op in calls), calls


def test_retire_leaves_a_group_the_rule_still_forwards_to(aws, versions, agent):
    group = versions.ensure(agent, 1, served(agent, 1))
    rule = _rule(aws, agent, group)
    versions.retire(agent, 1)  # no rule given: the service goes, AWS refuses to delete the group
    assert _service(aws, agent, 1)["status"] == "INACTIVE"
    assert _group(aws, agent, 1)["TargetGroupArn"] == group
    aws["elbv2"].delete_rule(RuleArn=rule)
    versions.retire(agent, 1)  # once unreferenced, the group goes too
    assert _group(aws, agent, 1) is None


def test_retire_removes_a_weight_zero_entry_and_ensure_recreates_after_retire(aws, versions, agent):
    rule = _rule(aws, agent, aws["gateway_group"])
    group = versions.ensure(agent, 1, served(agent, 1), listener_rule_arn=rule)
    versions.retire(agent, 1, listener_rule_arn=rule)
    assert _forward(aws, rule) == {aws["gateway_group"]: 100}
    assert _group(aws, agent, 1) is None

    # an INACTIVE service of the same name does not block a new one
    again = versions.ensure(agent, 1, served(agent, 1))
    assert again != group and _service(aws, agent, 1)["status"] == "ACTIVE"
    assert _service(aws, agent, 1)["loadBalancers"][0]["targetGroupArn"] == again


def test_retire_of_an_unknown_version_is_a_no_op(versions, agent, calls):
    versions.retire(agent, 7)
    assert calls and all(op.startswith(READS) for op in calls), calls


def test_errors_are_service_errors_or_value_errors(aws, agent):
    cfg = aws["config"]
    missing = VersionServices(EcsVersionConfig(**{**cfg.__dict__, "base_task_definition": "no-such-family"}),
                              ecs=aws["ecs"], elbv2=aws["elbv2"])
    with pytest.raises(ServiceError) as caught:
        missing.ensure(agent, 1, served(agent, 1))
    assert (caught.value.operation, caught.value.code, caught.value.resource) == \
        ("DescribeTaskDefinition", "ClientException", "no-such-family")

    for suffix, change, match in (("c", {"container_name": "worker"}, "no container 'worker'"),
                                  ("p", {"container_port": 9000}, r"maps ports \[8080\], not 9000")):
        wrong = VersionServices(EcsVersionConfig(**{**cfg.__dict__, **change}), ecs=aws["ecs"], elbv2=aws["elbv2"])
        with pytest.raises(ValueError, match=match):
            wrong.ensure(f"{agent}-{suffix}", 1, served(agent, 1))

    versions = VersionServices(cfg, ecs=aws["ecs"], elbv2=aws["elbv2"])
    with pytest.raises(ValueError, match="must be strings"):
        versions.ensure(agent, 1, {"SHIPWAY_SERVED_VERSION": 1})
    with pytest.raises(ValueError, match="version must be >= 0"):
        versions.ensure(agent, -1, {})

    # nothing was created by the refused calls
    for name in (agent, f"{agent}-c", f"{agent}-p"):
        assert _group(aws, name, 1) is None and _service(aws, name, 1) is None and _revisions(aws, name, 1) == []

    # the same group name in another VPC: refused, not silently reused
    other_vpc = VersionServices(EcsVersionConfig(**{**cfg.__dict__, "vpc_id": "vpc-0123456789abcdef0"}),
                                ecs=aws["ecs"], elbv2=aws["elbv2"])
    versions.ensure(agent, 1, served(agent, 1))
    with pytest.raises(ServiceError) as caught:
        other_vpc.ensure(agent, 1, served(agent, 1))
    assert (caught.value.code, caught.value.resource) == ("TargetGroupMismatch", target_group_name(agent, 1))


def test_names_are_valid_deterministic_and_distinct():
    assert service_name("support-triage", 3) == "support-triage-v3"
    assert task_family("shipway-gateway", "support-triage", 3) == "shipway-gateway-support-triage-v3"
    assert base_family(f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/shipway-gateway:12") == "shipway-gateway"
    assert base_family("shipway-gateway:12") == base_family("shipway-gateway") == "shipway-gateway"
    long_base = "f" * 250
    names = [task_family(base, agent, v) for base in (long_base, long_base + "x", "shipway-gateway")
             for agent in ("a" * 63, "a" * 62 + "b", "a.b", "a b") for v in (1, 2, 1234567)]
    names += [service_name(agent, v) for agent in ("a" * 300, "a" * 299 + "b", "a.b", "a b") for v in (1, 12)]
    assert len(set(names)) == len(names)
    for name in names:
        assert len(name) <= 255 and set(name) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
    assert task_family(long_base, "agent", 1).endswith("-v1")
    with pytest.raises(ValueError):
        service_name("support-triage", -1)
