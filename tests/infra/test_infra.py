"""The Pulumi program for AWS (infra/), checked under Pulumi's mocks: what each resource is asked to
be (RDS, subnets, services, listeners, alarms, scaling, IAM), not what AWS would make of it."""

from __future__ import annotations

import ipaddress
import json
import runpy
from typing import Any

import pulumi
import pytest
import yaml
from pulumi.runtime import rpc
from pulumi_mocks import INFRA_DIR, ZONES, BuiltStack, run_program

from shipway import settings as shipway_settings
from shipway_infra import iam, load_balancer, scaling, services
from shipway_infra.config import PROCESSES, ServiceSpec, ShipwayConfig, load_config
from shipway_infra.network import subnet_cidrs
from shipway_infra.stack import build

CHECKPOINT_KEYS = "k20260101:q83vEjRWl3m3LwpHN9ApGA=="
SECRETS = {"SHIPWAY_CHECKPOINT_KEYS": CHECKPOINT_KEYS, "TEMPORAL_API_KEY": "temporal-api-key-value",
           "SHIPWAY_JIRA_API_TOKEN": "jira-token-value"}
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shipway:0.1.0"
CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/0f3c1b6e-1111-2222-3333-444455556666"

# pulumi_aws warns, as the mocks load its modules, about deprecated classes of its own (BucketV2, ...)
# that the program does not use
pytestmark = pytest.mark.filterwarnings("ignore:.*deprecated in favor of:DeprecationWarning:pulumi_aws")

SERVICE, TASK_DEF = "aws:ecs/service:Service", "aws:ecs/taskDefinition:TaskDefinition"
SUBNET, SG_IN, SG_OUT = "aws:ec2/subnet:Subnet", "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", \
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
LISTENER, RULE, TARGET_GROUP = "aws:lb/listener:Listener", "aws:lb/listenerRule:ListenerRule", "aws:lb/targetGroup:TargetGroup"
ALARM, POLICY, SCALABLE = "aws:cloudwatch/metricAlarm:MetricAlarm", "aws:appautoscaling/policy:Policy", \
    "aws:appautoscaling/target:Target"
ROLE_POLICY, SECRET, SECRET_VERSION = "aws:iam/rolePolicy:RolePolicy", "aws:secretsmanager/secret:Secret", \
    "aws:secretsmanager/secretVersion:SecretVersion"


def make_config(**overrides: Any) -> ShipwayConfig:
    """A production-like configuration: three zones, HTTPS, Temporal Cloud with an API key, Jira."""
    values: dict[str, Any] = dict(
        name="shipway-test", region="eu-west-1", image=IMAGE, temporal_address="eu-west-1.aws.api.temporal.io:7233",
        temporal_namespace="shipway-test.a1b2c", secrets=SECRETS, availability_zones=("eu-west-1a", "eu-west-1b", "eu-west-1c"),
        certificate_arn=CERTIFICATE, alarm_email="oncall@bank.example", environment={"SHIPWAY_LLM": "openai:gpt-4o-mini"})
    return ShipwayConfig(**{**values, **overrides})


@pytest.fixture(scope="module")
def stack() -> BuiltStack:
    return run_program(lambda: build(make_config()))


@pytest.fixture(scope="module")
def http_stack() -> BuiltStack:
    return run_program(lambda: build(make_config(certificate_arn=None, single_nat_gateway=True, alarm_email=None)))


def unsecret(value: Any) -> tuple[Any, bool]:
    """``(plain value, whether it was a Pulumi secret)`` of an input as the mocks receive it."""
    if isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig:
        return value["value"], True
    return value, False


def private_subnet_ids(s: BuiltStack) -> list[str]:
    """Ids of the private subnets in zone order (``<name>-private-<i>``): the mocks record resources
    in the order Pulumi's runtime registers them, which varies from run to run."""
    private = [r for r in s.of(SUBNET) if r.inputs["tags"]["tier"] == "private"]
    return [s.id_of(SUBNET, r.name) for r in sorted(private, key=lambda r: int(r.name.rsplit("-", 1)[1]))]


def containers(s: BuiltStack) -> dict[str, dict]:
    """Container definition of each task definition, by container (process) name."""
    defs = [json.loads(r.inputs["containerDefinitions"]) for r in s.of(TASK_DEF)]
    assert all(len(d) == 1 for d in defs)
    return {d[0]["name"]: d[0] for d in defs}


def policy_documents(s: BuiltStack) -> dict[str, dict]:
    return {r.name: json.loads(r.inputs["policy"]) for r in s.of(ROLE_POLICY)}


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


# --- database -------------------------------------------------------------------------------

def test_rds_is_multi_az_encrypted_private_postgres16_with_7_day_backups(stack: BuiltStack) -> None:
    (db,) = stack.of("aws:rds/instance:Instance")
    i = db.inputs
    assert (i["multiAz"], i["storageEncrypted"], i["publiclyAccessible"]) == (True, True, False)
    assert i["engine"] == "postgres" and i["engineVersion"].split(".")[0] == "16"
    assert i["backupRetentionPeriod"] == 7 and i["deletionProtection"] is True and i["skipFinalSnapshot"] is False
    assert unsecret(i["password"])[1], "the master password must stay a Pulumi secret"
    (pg,) = stack.of("aws:rds/parameterGroup:ParameterGroup")
    assert pg.inputs["family"] == "postgres16" and i["parameterGroupName"] == f"{pg.name}-a1b2c3d"
    assert [(p["name"], p["value"]) for p in pg.inputs["parameters"]] == [("rds.force_ssl", "1")]
    (subnet_group,) = stack.of("aws:rds/subnetGroup:SubnetGroup")
    assert subnet_group.inputs["subnetIds"] == private_subnet_ids(stack)
    assert i["vpcSecurityGroupIds"] == [stack.id_of("aws:ec2/securityGroup:SecurityGroup", "shipway-test-db")]


def test_database_accepts_5432_from_the_tasks_security_group_only(stack: BuiltStack) -> None:
    db_sg = stack.id_of("aws:ec2/securityGroup:SecurityGroup", "shipway-test-db")
    tasks_sg = stack.id_of("aws:ec2/securityGroup:SecurityGroup", "shipway-test-tasks")
    ingress = [r.inputs for r in stack.of(SG_IN) if r.inputs["securityGroupId"] == db_sg]
    assert ingress == [{**ingress[0], "ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432,
                        "referencedSecurityGroupId": tasks_sg}]
    assert "cidrIpv4" not in ingress[0]
    assert not [r for r in stack.of(SG_OUT) if r.inputs["securityGroupId"] == db_sg]


def test_database_url_secret_points_at_rds_with_tls(stack: BuiltStack) -> None:
    (url_secret,) = [r for r in stack.of(SECRET) if r.name == "shipway-test-database-url"]
    (version,) = [r for r in stack.of(SECRET_VERSION) if r.inputs["secretId"] == f"{url_secret.name}-id"]
    url, is_secret = unsecret(version.inputs["secretString"])
    assert is_secret
    assert url == ("postgresql://shipway:mock-password-0123456789abcdef@shipway-test-db.abcdefghij.eu-west-1.rds.amazonaws.com"
                   ":5432/shipway?sslmode=require")


# --- network --------------------------------------------------------------------------------

def test_three_zones_of_public_and_private_subnets_with_a_nat_each(stack: BuiltStack) -> None:
    subnets = [r.inputs for r in stack.of(SUBNET)]
    for tier in ("public", "private"):
        zones = [s["availabilityZone"] for s in subnets if s["tags"]["tier"] == tier]
        assert sorted(zones) == ["eu-west-1a", "eu-west-1b", "eu-west-1c"], tier
    assert not any(s["mapPublicIpOnLaunch"] for s in subnets)
    assert len(stack.of("aws:ec2/natGateway:NatGateway")) == 3
    nat_routes = {r.inputs["natGatewayId"] for r in stack.of("aws:ec2/route:Route") if "natGatewayId" in r.inputs}
    assert len(nat_routes) == 3, "each private subnet leaves through the NAT of its own zone"


def test_single_nat_gateway_serves_every_private_subnet(http_stack: BuiltStack) -> None:
    (nat,) = http_stack.of("aws:ec2/natGateway:NatGateway")
    routes = [r.inputs for r in http_stack.of("aws:ec2/route:Route") if "natGatewayId" in r.inputs]
    assert len(routes) == 3 and {r["natGatewayId"] for r in routes} == {f"{nat.name}-id"}


def test_subnet_cidrs_are_disjoint_and_inside_the_vpc() -> None:
    public, private = subnet_cidrs("10.40.0.0/16")
    nets = [ipaddress.ip_network(c) for c in public + private]
    assert len(nets) == 6 and all(n.subnet_of(ipaddress.ip_network("10.40.0.0/16")) for n in nets)
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:])


# --- services -------------------------------------------------------------------------------

def test_every_service_runs_in_private_subnets_without_public_ip(stack: BuiltStack) -> None:
    svcs = stack.of(SERVICE)
    assert sorted(s.name for s in svcs) == sorted(f"shipway-test-{p}" for p in PROCESSES)
    tasks_sg = stack.id_of("aws:ec2/securityGroup:SecurityGroup", "shipway-test-tasks")
    for s in svcs:
        net = s.inputs["networkConfiguration"]
        assert net["assignPublicIp"] is False, s.name
        assert net["subnets"] == private_subnet_ids(stack), s.name
        assert net["securityGroups"] == [tasks_sg], s.name
        assert s.inputs["launchType"] == "FARGATE"


def test_each_task_queue_has_its_own_worker_service_and_count() -> None:
    cfg = make_config(services={**make_config().services, "worker-agents": ServiceSpec(cpu=2048, memory=8192,
                                                                                       desired_count=4, min_count=3)})
    s = run_program(lambda: build(cfg))
    counts = {r.name: r.inputs["desiredCount"] for r in s.of(SERVICE)}
    assert counts["shipway-test-worker-agents"] == 4 and counts["shipway-test-worker-control"] == 2
    commands = {name: c["command"] for name, c in containers(s).items()}
    assert commands["worker-control"] == ["shipway", "worker", "--queue", shipway_settings.CONTROL_TASK_QUEUE]
    assert commands["worker-agents"] == ["shipway", "worker", "--queue", shipway_settings.AGENTS_TASK_QUEUE]
    assert (services.CONTROL_TASK_QUEUE, services.AGENTS_TASK_QUEUE) == (shipway_settings.CONTROL_TASK_QUEUE,
                                                                         shipway_settings.AGENTS_TASK_QUEUE)


def test_secrets_reach_containers_as_secret_arns_never_as_values(stack: BuiltStack) -> None:
    secret_arns = {f"arn:aws:secretsmanager:eu-west-1:123456789012:secret:{r.name}-AbCdEf" for r in stack.of(SECRET)}
    by_process = containers(stack)
    for name, c in by_process.items():
        env_names = {e["name"] for e in c["environment"]}
        secret_names = {e["name"] for e in c["secrets"]}
        assert {e["valueFrom"] for e in c["secrets"]} <= secret_arns, name
        assert not env_names & secret_names, name
        assert not {e["value"] for e in c["environment"]} & set(SECRETS.values()), name
        assert "DATABASE_URL" in secret_names, name
    for name in PROCESSES:
        assert set(SECRETS) <= {e["name"] for e in by_process[name]["secrets"]}, name
        env = {e["name"]: e["value"] for e in by_process[name]["environment"]}
        assert env["TEMPORAL_ADDRESS"] == "eu-west-1.aws.api.temporal.io:7233"
        assert env["TEMPORAL_NAMESPACE"] == "shipway-test.a1b2c"
        assert env["SHIPWAY_ARTIFACT_STORE"] == "s3://shipway-test-artifacts-20260101/artifacts"
        assert env["SHIPWAY_LLM"] == "openai:gpt-4o-mini"
    assert [e["name"] for e in by_process["migrate"]["secrets"]] == ["DATABASE_URL"]
    assert dict((e["name"], e["value"]) for e in by_process["console"]["environment"])["STREAMLIT_SERVER_BASE_URL_PATH"] == \
        load_balancer.CONSOLE_BASE_PATH
    for version in stack.of(SECRET_VERSION):
        assert unsecret(version.inputs["secretString"])[1], version.name
    assert all(c["logConfiguration"]["logDriver"] == "awslogs" for c in by_process.values())


# --- load balancer --------------------------------------------------------------------------

def test_https_listener_and_http_redirect_with_a_certificate(stack: BuiltStack) -> None:
    listeners = {r.inputs["port"]: r.inputs for r in stack.of(LISTENER)}
    assert sorted(listeners) == [80, 443]
    https, http = listeners[443], listeners[80]
    assert https["protocol"] == "HTTPS" and https["certificateArn"] == CERTIFICATE
    assert https["sslPolicy"] == load_balancer.TLS_POLICY
    (redirect,) = http["defaultActions"]
    assert redirect["type"] == "redirect"
    assert (redirect["redirect"]["protocol"], redirect["redirect"]["port"], redirect["redirect"]["statusCode"]) == \
        ("HTTPS", "443", "HTTP_301")
    assert {r.inputs["listenerArn"] for r in stack.of(RULE)} == {"arn:aws:mock:eu-west-1:123456789012:listener/shipway-test-https"}
    alb_sg = stack.id_of("aws:ec2/securityGroup:SecurityGroup", "shipway-test-alb")
    assert sorted(r.inputs["fromPort"] for r in stack.of(SG_IN) if r.inputs["securityGroupId"] == alb_sg) == [80, 443]


def test_plain_http_forwarding_without_a_certificate(http_stack: BuiltStack) -> None:
    (listener,) = http_stack.of(LISTENER)
    assert (listener.inputs["port"], listener.inputs["protocol"]) == (80, "HTTP")
    assert listener.inputs["defaultActions"][0]["type"] == "fixed-response"
    assert "certificateArn" not in listener.inputs
    assert {r.inputs["listenerArn"] for r in http_stack.of(RULE)} == {f"arn:aws:mock:eu-west-1:123456789012:listener/{listener.name}"}
    alb_sg = http_stack.id_of("aws:ec2/securityGroup:SecurityGroup", "shipway-test-alb")
    assert [r.inputs["fromPort"] for r in http_stack.of(SG_IN) if r.inputs["securityGroupId"] == alb_sg] == [80]
    assert http_stack.exports["url"].startswith("http://")


def test_gateway_rule_is_a_weighted_forward_whose_arns_are_exported(stack: BuiltStack) -> None:
    rule = stack.named(RULE, "shipway-test-gateway")
    (action,) = rule["actions"]
    gw_tg_arn = "arn:aws:mock:eu-west-1:123456789012:targetgroup/shipway-test-gw"
    assert action["type"] == "forward" and action["forward"]["targetGroups"] == [{"arn": gw_tg_arn, "weight": 100}]
    assert rule["conditions"] == [{"pathPattern": {"values": ["/*"]}}]
    assert stack.exports["gateway_listener_rule_arn"] == "arn:aws:mock:eu-west-1:123456789012:listenerrule/shipway-test-gateway"
    assert stack.exports["gateway_target_group_arns"] == [gw_tg_arn]
    console_rule = stack.named(RULE, "shipway-test-console")
    assert console_rule["priority"] < rule["priority"], "the console's paths must match before the gateway's catch-all"
    gw_tg, console_tg = stack.named(TARGET_GROUP, "shipway-test-gw"), stack.named(TARGET_GROUP, "shipway-test-console")
    assert gw_tg["healthCheck"]["path"] == "/healthz" and gw_tg["port"] == 8080 and gw_tg["targetType"] == "ip"
    assert console_tg["healthCheck"]["path"] == "/console/_stcore/health" and console_tg["stickiness"]["enabled"] is True


def test_exports(stack: BuiltStack) -> None:
    e = stack.exports
    assert e["alb_dns_name"] == "shipway-test-1234.eu-west-1.elb.amazonaws.com"
    assert e["rds_endpoint"].startswith("shipway-test-db.") and e["cluster_name"]
    assert e["sns_topic_arn"] == "arn:aws:mock:eu-west-1:123456789012:topic/shipway-test-alarms"
    assert e["artifact_bucket"] == "shipway-test-artifacts-20260101"
    assert e["console_target_group_arn"].endswith("/shipway-test-console")
    assert e["migrate_task_definition_arn"].endswith("/shipway-test-migrate")
    assert e["private_subnet_ids"] == private_subnet_ids(stack)


# --- monitoring -----------------------------------------------------------------------------

def test_alarm_thresholds_and_that_each_notifies_the_topic(stack: BuiltStack) -> None:
    alarms = {r.name.removeprefix("shipway-test-"): r.inputs for r in stack.of(ALARM)}
    topic = [stack.exports["sns_topic_arn"]]
    for a in alarms.values():
        assert a["alarmActions"] == topic and a["okActions"] == topic
        assert a["comparisonOperator"] == "GreaterThanThreshold"
    for p in PROCESSES:
        assert (alarms[f"{p}-cpu"]["metricName"], alarms[f"{p}-cpu"]["threshold"]) == ("CPUUtilization", 80)
        assert (alarms[f"{p}-memory"]["metricName"], alarms[f"{p}-memory"]["threshold"]) == ("MemoryUtilization", 85)
        assert alarms[f"{p}-cpu"]["namespace"] == "AWS/ECS"
    for key in ("alb-5xx", "target-5xx"):
        a = alarms[key]
        assert (a["threshold"], a["period"] * a["evaluationPeriods"], a["statistic"]) == (10, 300, "Sum"), key
    assert {alarms["alb-5xx"]["metricName"], alarms["target-5xx"]["metricName"]} == \
        {"HTTPCode_ELB_5XX_Count", "HTTPCode_Target_5XX_Count"}
    latency = alarms["gateway-latency"]
    assert (latency["metricName"], latency["threshold"]) == ("TargetResponseTime", 2)
    assert latency["dimensions"]["TargetGroup"] == "targetgroup/shipway-test-gw/73e2d6bc24d8a067"
    for p in ("gateway", "console"):
        a = alarms[f"{p}-unhealthy"]
        assert (a["metricName"], a["threshold"]) == ("UnHealthyHostCount", 0)
    (sub,) = stack.of("aws:sns/topicSubscription:TopicSubscription")
    assert (sub.inputs["protocol"], sub.inputs["endpoint"], sub.inputs["topic"]) == ("email", "oncall@bank.example", topic[0])
    (dashboard,) = stack.of("aws:cloudwatch/dashboard:Dashboard")
    assert len(json.loads(dashboard.inputs["dashboardBody"])["widgets"]) == 6


def test_no_email_subscription_without_alarm_email(http_stack: BuiltStack) -> None:
    assert not http_stack.of("aws:sns/topicSubscription:TopicSubscription")
    assert len(http_stack.of(ALARM)) == 2 * len(PROCESSES) + 5, "the alarms themselves do not depend on an e-mail"


# --- auto-scaling ---------------------------------------------------------------------------

def test_scaling_bounds_cooldowns_and_targets(stack: BuiltStack) -> None:
    targets = stack.of(SCALABLE)
    assert len(targets) == len(PROCESSES)
    for t in targets:
        assert (t.inputs["minCapacity"], t.inputs["maxCapacity"]) == (2, 10), t.name
        assert t.inputs["scalableDimension"] == "ecs:service:DesiredCount"
    by_process: dict[str, dict[str, float]] = {}
    for p in stack.of(POLICY):
        conf = p.inputs["targetTrackingScalingPolicyConfiguration"]
        assert p.inputs["policyType"] == "TargetTrackingScaling"
        assert (conf["scaleOutCooldown"], conf["scaleInCooldown"]) == (60, 300), p.name
        process = next(q for q in PROCESSES if p.name.startswith(f"shipway-test-{q}-"))
        by_process.setdefault(process, {})[conf["predefinedMetricSpecification"]["predefinedMetricType"]] = conf["targetValue"]
        if conf["predefinedMetricSpecification"]["predefinedMetricType"] == "ALBRequestCountPerTarget":
            assert conf["predefinedMetricSpecification"]["resourceLabel"] == \
                "app/shipway-test/50dc6c495c0c9188/targetgroup/shipway-test-gw/73e2d6bc24d8a067"
    cpu_mem = {"ECSServiceAverageCPUUtilization": 70, "ECSServiceAverageMemoryUtilization": 80}
    assert by_process == {p: cpu_mem | ({"ALBRequestCountPerTarget": 1000} if p == "gateway" else {}) for p in PROCESSES}
    assert scaling.REQUESTS_PER_TARGET == 1000


# --- IAM ------------------------------------------------------------------------------------

def test_execution_role_reads_exactly_the_stack_secrets_and_writes_its_log_groups(stack: BuiltStack) -> None:
    doc = policy_documents(stack)["shipway-test-execution"]
    statements = {s["Sid"]: s for s in doc["Statement"]}
    secret_arns = {f"arn:aws:secretsmanager:eu-west-1:123456789012:secret:{r.name}-AbCdEf" for r in stack.of(SECRET)}
    assert len(secret_arns) == 1 + len(SECRETS)
    assert set(statements["ReadTaskSecrets"]["Resource"]) == secret_arns
    assert statements["ReadTaskSecrets"]["Action"] == "secretsmanager:GetSecretValue"
    log_groups = {f"arn:aws:logs:eu-west-1:123456789012:log-group:{r.inputs['name']}"
                  for r in stack.of("aws:cloudwatch/logGroup:LogGroup")}
    assert {r.removesuffix(":log-stream:*") for r in statements["WriteTaskLogs"]["Resource"]} == log_groups
    assert statements["PullImage"]["Resource"] == "arn:aws:ecr:eu-west-1:123456789012:repository/shipway"
    assert "DecryptSecrets" not in statements


def test_task_role_touches_only_the_artifact_bucket(stack: BuiltStack) -> None:
    doc = policy_documents(stack)["shipway-test-task"]
    bucket_arn = "arn:aws:s3:::shipway-test-artifacts-20260101"
    resources = {r for s in doc["Statement"] for r in as_list(s["Resource"])}
    assert resources == {bucket_arn, f"{bucket_arn}/artifacts/*"}
    actions = {a for s in doc["Statement"] for a in as_list(s["Action"])}
    assert actions == {"s3:GetObject", "s3:PutObject", "s3:ListBucket"}


def test_only_the_control_worker_may_shift_alb_weights_and_only_on_its_listener(stack: BuiltStack) -> None:
    docs = policy_documents(stack)
    assert docs["shipway-test-control-artifacts"] == docs["shipway-test-task"]
    statements = {s["Sid"]: s for s in docs["shipway-test-control-traffic"]["Statement"]}
    assert statements["ShiftWeights"] == {
        "Sid": "ShiftWeights", "Effect": "Allow", "Action": "elasticloadbalancing:ModifyRule",
        "Resource": "arn:aws:mock:eu-west-1:123456789012:listener-rule/shipway-test-https/*"}
    assert statements["ReadRulesAndTargetGroups"]["Resource"] == "*"
    roles = {r.inputs["family"].removeprefix("shipway-test-"): r.inputs["taskRoleArn"] for r in stack.of(TASK_DEF)}
    control_role, task_role = (f"arn:aws:mock:eu-west-1:123456789012:role/shipway-test-{n}" for n in ("control", "task"))
    assert roles == {"worker-control": control_role, "gateway": task_role, "worker-agents": task_role,
                     "console": task_role, "migrate": task_role}
    attached = {r.name: r.inputs["role"] for r in stack.of(ROLE_POLICY)}
    assert attached["shipway-test-control-traffic"] == "shipway-test-control-id"
    assert all(not name.endswith("traffic") for name, role in attached.items() if role != "shipway-test-control-id")


def test_no_wildcard_resource_but_where_aws_requires_one(stack: BuiltStack) -> None:
    for name, doc in policy_documents(stack).items():
        for s in doc["Statement"]:
            if "*" in as_list(s["Resource"]):
                assert set(as_list(s["Action"])) <= set(iam.WILDCARD_ACTIONS), (name, s)
            assert not any(a.endswith(":*") or a == "*" for a in as_list(s["Action"])), (name, s)


def test_kms_decrypt_only_on_the_configured_key_through_secrets_manager() -> None:
    key = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    s = run_program(lambda: build(make_config(secrets_kms_key_arn=key, image="ghcr.io/bank/shipway:0.1.0")))
    statements = {st["Sid"]: st for st in policy_documents(s)["shipway-test-execution"]["Statement"]}
    assert statements["DecryptSecrets"]["Resource"] == key
    assert statements["DecryptSecrets"]["Condition"] == {"StringEquals": {"kms:ViaService": "secretsmanager.amazonaws.com"}}
    assert "EcrToken" not in statements and "PullImage" not in statements, "an image outside ECR needs no ECR right"
    assert {r.inputs["kmsKeyId"] for r in s.of(SECRET)} == {key}


def test_ecr_repository_arn() -> None:
    assert iam.ecr_repository_arn("123456789012.dkr.ecr.us-east-1.amazonaws.com/team/shipway@sha256:ab") == \
        "arn:aws:ecr:us-east-1:123456789012:repository/team/shipway"
    assert iam.ecr_repository_arn("public.ecr.aws/bank/shipway:1") is None


# --- storage --------------------------------------------------------------------------------

def test_artifact_bucket_is_encrypted_versioned_private_and_tls_only(stack: BuiltStack) -> None:
    (sse,) = stack.of("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    (versioning,) = stack.of("aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    (block,) = stack.of("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert all(block.inputs[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                                 "restrictPublicBuckets"))
    (policy,) = stack.of("aws:s3/bucketPolicy:BucketPolicy")
    (deny,) = json.loads(policy.inputs["policy"])["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


# --- configuration --------------------------------------------------------------------------

@pytest.mark.parametrize("overrides, message", [
    ({"secrets": {"TEMPORAL_API_KEY": "x"}}, "checkpointKeys"),
    ({"environment": {"TEMPORAL_API_KEY": "in clear text"}}, "may not set"),
    ({"environment": {"DATABASE_URL": "postgresql://x"}}, "may not set"),
    ({"name": "Shipway_Production_EU"}, "name"),
    ({"availability_zones": ("eu-west-1a", "eu-west-1b")}, "exactly 3"),
    ({"vpc_cidr": "10.0.0.0/24"}, "vpcCidr"),
    ({"db_allocated_storage_gb": 500}, "dbMaxAllocatedStorageGb"),
    ({"log_retention_days": 10}, "logRetentionDays"),
    ({"services": {**make_config().services, "gateway": ServiceSpec(cpu=1024, memory=1024)}}, "Fargate"),
    ({"services": {**make_config().services, "console": ServiceSpec(cpu=512, memory=1024, desired_count=1)}}, "minCount"),
    ({"services": {p: s for p, s in make_config().services.items() if p != "console"}}, "services"),
])
def test_config_refuses_what_aws_would_reject_late(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_config(**overrides)


def test_main_program_from_stack_config() -> None:
    """``__main__`` with config as `pulumi config set` stores it: zones looked up, defaults filled in."""
    config = {
        "aws:region": "eu-west-1",
        "shipway:name": "shipway-dev",
        "shipway:image": IMAGE,
        "shipway:temporalAddress": "temporal.internal:7233",
        "shipway:checkpointKeys": CHECKPOINT_KEYS,
        "shipway:jiraApiToken": "jira-token-value",
        "shipway:singleNatGateway": "true",
        "shipway:deletionProtection": "false",
        "shipway:environment": json.dumps({"SHIPWAY_JIRA_URL": "https://bank.atlassian.net"}),
        "shipway:services": json.dumps({"worker-agents": {"desiredCount": 3, "maxCount": 6}}),
    }
    def main() -> None:
        runpy.run_path(str(INFRA_DIR / "__main__.py"))

    s = run_program(main, config, secret_keys=["shipway:checkpointKeys", "shipway:jiraApiToken"])
    zones = sorted(r.inputs["availabilityZone"] for r in s.of(SUBNET) if r.inputs["tags"]["tier"] == "private")
    assert zones == ZONES[:3]
    assert len(s.of("aws:ec2/natGateway:NatGateway")) == 1
    assert s.named("aws:rds/instance:Instance", "shipway-dev-db")["deletionProtection"] is False
    assert sorted(r.name for r in s.of(SECRET)) == ["shipway-dev-database-url", "shipway-dev-shipway-checkpoint-keys",
                                                    "shipway-dev-shipway-jira-api-token"]
    assert s.named(SERVICE, "shipway-dev-worker-agents")["desiredCount"] == 3
    assert s.named(SCALABLE, "shipway-dev-worker-agents")["maxCapacity"] == 6
    env = {e["name"]: e["value"] for e in containers(s)["gateway"]["environment"]}
    assert (env["TEMPORAL_ADDRESS"], env["TEMPORAL_NAMESPACE"]) == ("temporal.internal:7233", "default")
    assert env["SHIPWAY_JIRA_URL"] == "https://bank.atlassian.net"
    assert "TEMPORAL_API_KEY" not in {e["name"] for e in containers(s)["gateway"]["secrets"]}


def test_example_stack_config_builds() -> None:
    """``Pulumi.dev.yaml`` as shipped, plus the one secret it says to set, makes a whole stack."""
    example = yaml.safe_load((INFRA_DIR / "Pulumi.dev.yaml").read_text())["config"]
    # as the CLI hands config to the program: structured values as JSON text, scalars as strings
    config = {k: v if isinstance(v, str) else json.dumps(v) for k, v in example.items()}
    config["shipway:checkpointKeys"] = CHECKPOINT_KEYS

    def main() -> None:
        runpy.run_path(str(INFRA_DIR / "__main__.py"))

    s = run_program(main, config, secret_keys=["shipway:checkpointKeys"])
    assert len(s.of(SERVICE)) == len(PROCESSES) and len(s.of("aws:ec2/natGateway:NatGateway")) == 1
    assert s.named(SCALABLE, "shipway-test-worker-agents")["maxCapacity"] == 6


def test_load_config_requires_the_checkpoint_keys() -> None:
    config = {"aws:region": "eu-west-1", "shipway:image": IMAGE, "shipway:temporalAddress": "t:7233"}
    with pytest.raises(pulumi.ConfigMissingError, match="checkpointKeys"):
        run_program(lambda: build(load_config()), config)


def test_the_control_worker_may_run_version_services_only_in_its_cluster(stack: BuiltStack) -> None:
    statements = {s["Sid"]: s for s in policy_documents(stack)["shipway-test-control-versions"]["Statement"]}
    assert statements["VersionServices"]["Resource"].endswith(":service/shipway-test/*")
    assert statements["VersionTargetGroups"]["Resource"].startswith("arn:aws:elasticloadbalancing:eu-west-1:")
    assert set(statements["PassTaskRoles"]["Resource"]) == {
        "arn:aws:mock:eu-west-1:123456789012:role/shipway-test-execution", "arn:aws:mock:eu-west-1:123456789012:role/shipway-test-task"}
    assert statements["PassTaskRoles"]["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
    control = next(r for r in stack.of(TASK_DEF) if r.inputs["family"] == "shipway-test-worker-control")
    [container] = json.loads(control.inputs["containerDefinitions"])
    ecs = json.loads(next(e["value"] for e in container["environment"] if e["name"] == "SHIPWAY_AWS_ECS"))
    assert (ecs["base_task_definition"], ecs["container_name"], ecs["container_port"]) == ("shipway-test-gateway", "gateway", 8080)
    assert len(ecs["subnets"]) == 3 and len(ecs["security_groups"]) == 1
