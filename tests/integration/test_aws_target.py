"""The ``aws`` target's weights (:mod:`activities.targets.aws_alb`) with boto3 against moto in server
mode (a real HTTP ELBv2/EC2 endpoint on loopback): a VPC, an ALB, a listener, one target group per
version and a listener rule per test.

Moto stores and returns rule configuration only. It does not model: traffic actually split by weight
or held by stickiness (no requests flow), target health checks, ECS services or their deployment,
ALB's 0..999 weight range (it accepts 1000) or its limit of 5 target groups per forward action, nor
the ``ForwardConfig`` real AWS reports for a plain ``TargetGroupArn`` forward.
"""

from __future__ import annotations

import asyncio
import itertools
import math

import boto3
import pytest

from activities.targets.aws_alb import AlbWeights, TargetError, alb_weights, target_group_name
from tests.support.moto_alb import REGION, moto_alb

AGENT = "support-triage"
_priorities = itertools.count(10)


@pytest.fixture(scope="module")
def aws():
    """A moto server on a free loopback port with a VPC (two subnets), an internal ALB, an HTTP
    listener and the target groups of versions 1 and 2; a dict of the elbv2 client, the listener
    ARN and ``{version: target group ARN}``."""
    with moto_alb() as stand_in:
        elbv2, vpc = stand_in.client("elbv2"), stand_in.vpc
        # ECS services with awsvpc networking register task IPs, hence target type ip
        groups = {v: elbv2.create_target_group(Name=target_group_name(AGENT, v), Protocol="HTTP", Port=8000, VpcId=vpc,
                                               TargetType="ip")["TargetGroups"][0]["TargetGroupArn"] for v in (1, 2)}
        yield {"client": elbv2, "listener": stand_in.listener, "groups": groups, "vpc": vpc, "subnets": stand_in.subnets,
               "kw": stand_in.kw}


@pytest.fixture
def rule(aws):
    """A fresh listener rule (its own priority) forwarding ``/agents/support-triage/*`` to v1 at
    100 %; its ARN. Deleted afterwards so tests do not see each other's weights."""
    arn = aws["client"].create_rule(
        ListenerArn=aws["listener"], Priority=next(_priorities),
        Conditions=[{"Field": "path-pattern", "Values": [f"/agents/{AGENT}/*"]}],
        Actions=[{"Type": "forward",
                  "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": aws["groups"][1], "Weight": 100}]}}],
    )["Rules"][0]["RuleArn"]
    yield arn
    aws["client"].delete_rule(RuleArn=arn)


def _described(aws, arn: str) -> dict:
    return aws["client"].describe_rules(RuleArns=[arn])["Rules"][0]


def test_apply_moves_the_rules_weights_and_keeps_stickiness(aws, rule):
    target, groups = AlbWeights(aws["client"]), aws["groups"]
    assert target.current(rule) == {groups[1]: 100}

    assert target.apply(rule, {1: 90.0, 2: 10.0}, groups) == {1: 90, 2: 10}
    assert target.current(rule) == {groups[1]: 90, groups[2]: 10}
    described = _described(aws, rule)
    assert described["Conditions"] == [{"Field": "path-pattern", "Values": [f"/agents/{AGENT}/*"]}]
    (action,) = described["Actions"]
    assert action["Type"] == "forward"
    assert action["ForwardConfig"]["TargetGroupStickinessConfig"] == {"Enabled": True, "DurationSeconds": 3600}

    # v1 at 0 %: dropped from the action, not left in it with weight 0
    assert target.apply(rule, {1: 0.0, 2: 100.0}, groups) == {2: 100}
    assert target.current(rule) == {groups[2]: 100}
    (action,) = _described(aws, rule)["Actions"]
    assert action["ForwardConfig"]["TargetGroups"] == [{"TargetGroupArn": groups[2], "Weight": 100}]
    assert action["ForwardConfig"]["TargetGroupStickinessConfig"] == {"Enabled": True, "DurationSeconds": 3600}


def test_fractional_percents_and_custom_stickiness(aws, rule):
    target, groups = AlbWeights(aws["client"], stickiness_seconds=600), aws["groups"]
    assert target.apply(rule, {1: 66.6, 2: 33.4}, groups) == {1: 665, 2: 334}
    assert target.current(rule) == {groups[1]: 665, groups[2]: 334}
    (action,) = _described(aws, rule)["Actions"]
    assert action["ForwardConfig"]["TargetGroupStickinessConfig"] == {"Enabled": True, "DurationSeconds": 600}


@pytest.mark.parametrize("weights", [{}, {1: 90.0, 2: 5.0}, {1: 110.0, 2: -10.0}, {1: math.nan, 2: 100.0},
                                     {1: math.inf, 2: 0.0}])
def test_invalid_weights_raise_without_touching_the_rule(aws, rule, weights):
    before = _described(aws, rule)
    with pytest.raises(ValueError, match="traffic weights"):
        AlbWeights(aws["client"]).apply(rule, weights, aws["groups"])
    assert _described(aws, rule) == before


def test_a_version_without_target_group_raises_without_touching_the_rule(aws, rule):
    before = _described(aws, rule)
    with pytest.raises(ValueError, match=r"no target group for version\(s\) \[3\]"):
        AlbWeights(aws["client"]).apply(rule, {1: 50.0, 3: 50.0}, aws["groups"])
    assert _described(aws, rule) == before


def test_a_target_group_unknown_to_aws_raises_target_error(aws, rule):
    groups = {1: aws["groups"][1], 2: aws["groups"][2][:-4] + "ffff"}
    with pytest.raises(TargetError) as caught:
        AlbWeights(aws["client"]).apply(rule, {1: 50.0, 2: 50.0}, groups)
    assert caught.value.code == "TargetGroupNotFound" and caught.value.rule_arn == rule
    assert AlbWeights(aws["client"]).current(rule) == {aws["groups"][1]: 100}


def test_an_unknown_rule_raises_target_error_with_the_aws_code(aws, rule):
    unknown = rule[:-4] + "ffff"
    target = AlbWeights(aws["client"])
    with pytest.raises(TargetError, match="ModifyRule on listener rule .*ffff failed: RuleNotFound") as caught:
        target.apply(unknown, {1: 100.0}, aws["groups"])
    assert (caught.value.code, caught.value.operation, caught.value.rule_arn) == ("RuleNotFound", "ModifyRule", unknown)
    with pytest.raises(TargetError) as caught:
        target.current(unknown)
    assert (caught.value.code, caught.value.operation) == ("RuleNotFound", "DescribeRules")


def test_stickiness_outside_alb_range_is_refused(aws):
    for seconds in (0, 604_801):
        with pytest.raises(ValueError, match="stickiness_seconds"):
            AlbWeights(aws["client"], stickiness_seconds=seconds)


@pytest.mark.parametrize(("percents", "expected"), [
    ({1: 100.0}, {1: 100}),
    ({1: 95.0, 2: 5.0, 3: 0.0}, {1: 95, 2: 5}),
    ({1: 100 / 3, 2: 100 / 3, 3: 100 / 3}, {1: 333, 2: 333, 3: 333}),
    ({1: 50.5, 2: 49.5}, {1: 504, 2: 495}),
    ({1: 99.95, 2: 0.05}, {1: 998, 2: 1}),  # the tiny canary keeps one unit
    ({1: 89.99999999999, 2: 10.00000000001}, {1: 90, 2: 10}),  # float noise around whole numbers
])
def test_alb_weights_rounding(percents, expected):
    assert alb_weights(percents) == expected


def test_target_group_names_are_valid_and_distinct():
    agents = ("support-triage", "a" * 63, "a" * 62 + "b", "A__b--c-", "---")
    names = [target_group_name(agent, version) for agent in agents for version in (1, 2, 1234567)]
    assert len(set(names)) == len(names)
    for name in names:
        assert len(name) <= 32 and set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789-"), name
        assert not name.startswith("-") and not name.endswith("-") and "--" not in name, name
    assert target_group_name("support-triage", 3) == target_group_name("support-triage", 3)
    assert target_group_name("support-triage", 3).startswith("support-triage-")
    with pytest.raises(ValueError):
        target_group_name("support-triage", -1)


@pytest.mark.asyncio(loop_scope="session")
async def test_a_rollout_on_the_aws_target_moves_the_listener_weights(aws, rule, settings_env, temporal_env, monkeypatch):
    """The same ``DeploymentWorkflow`` on target ``aws``: each version gets its own ECS service on
    its target group before it gets traffic; v1 AllAtOnce forwards all of the agent's traffic to v1's
    group; v2's canary step forwards 10 % to v2's; once promoted, v2 takes it all, v1 leaves the
    forward action and its service is retired. The gateway's weights in PostgreSQL follow the same steps."""
    from shipway import control, queries
    from shipway.db.engine import Database
    from shipway.settings import get_settings
    from tests.support.lifecycle import APPROVER, counting_spec, submit, wait_for_step
    from tests.support.workers import running_workers
    from workflows.statuses import ApprovalKind, LifecycleStep, VersionStatus

    import json

    ecs = boto3.client("ecs", **aws["kw"])
    ecs.create_cluster(clusterName="shipway")
    ecs.register_task_definition(
        family="shipway-gateway", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="512", memory="1024",
        containerDefinitions=[{"name": "gateway", "image": "registry.example/shipway:1", "essential": True,
                               "portMappings": [{"containerPort": 8000, "protocol": "tcp"}]}])
    ecs_config = {"cluster": "shipway", "base_task_definition": "shipway-gateway", "container_name": "gateway",
                  "container_port": 8000, "vpc_id": aws["vpc"], "subnets": aws["subnets"], "security_groups": [],
                  "desired_count": 1}
    endpoint = aws["client"].meta.endpoint_url
    for name, value in {"SHIPWAY_AWS_LISTENER_RULES": f'{{"{AGENT}": "{rule}"}}', "SHIPWAY_AWS_ENDPOINT_URL": endpoint,
                        "SHIPWAY_AWS_ECS": json.dumps(ecs_config),
                        "SHIPWAY_AWS_REGION": REGION, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    target, groups = AlbWeights(aws["client"]), aws["groups"]
    spec = counting_spec(name=AGENT, deployment={"strategy": "AllAtOnce", "target": "aws"})
    async with running_workers(temporal_env.client) as client, Database.from_settings(pool_size=2) as db:
        name, v1 = await submit(client, db, spec)
        await wait_for_step(client, name, v1, LifecycleStep.APPROVAL)
        await control.decide(client, name, v1, ApprovalKind.APPROVE, APPROVER, "aws target: v1")
        assert (await control.wait_lifecycle(client, name, v1)).status == VersionStatus.LIVE
        assert target.current(rule) == {groups[1]: 100}
        assert _services(ecs) == {f"{AGENT}-v1"}

        canary = {**spec, "deployment": {"strategy": "Custom", "target": "aws",
                                         "steps": [{"weight_pct": 10, "bake_s": 600}, {"weight_pct": 100}]}}
        _, v2 = await submit(client, db, canary)
        await wait_for_step(client, name, v2, LifecycleStep.APPROVAL)
        await control.decide(client, name, v2, ApprovalKind.APPROVE, APPROVER, "aws target: v2 canary")
        deadline = asyncio.get_running_loop().time() + 60
        # the listener's weights change first, then the catalog records them (the next activity): wait for both
        recorded = lambda: db.read(queries.traffic, name)  # noqa: E731
        while target.current(rule) != {groups[1]: 90, groups[2]: 10} or \
                {w.version: w.weight_pct for w in await recorded()} != {1: 90.0, 2: 10.0}:
            assert asyncio.get_running_loop().time() < deadline, (target.current(rule), await recorded())
            await asyncio.sleep(0.2)
        await control.signal_deployment(client, name, v2, "promote", "oscar.ops@bank.example")
        assert (await control.wait_lifecycle(client, name, v2)).status == VersionStatus.LIVE
        assert target.current(rule) == {groups[2]: 100}
        assert _services(ecs) == {f"{AGENT}-v2"}  # v1 retired once it had no traffic
        [promoted] = await db.read(queries.audit_events, f"agent:{name}:v{v2}", "deployment.signal.promote")
        assert promoted.actor == "oscar.ops@bank.example"


def _services(ecs) -> set[str]:
    """Names of the cluster's ACTIVE services."""
    arns = ecs.list_services(cluster="shipway")["serviceArns"]
    described = ecs.describe_services(cluster="shipway", services=arns)["services"] if arns else []
    return {s["serviceName"] for s in described if s["status"] == "ACTIVE"}
