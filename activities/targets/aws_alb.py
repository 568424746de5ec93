"""The ``aws`` deployment target's weights: each agent version runs as its own ECS service behind its
own ALB target group, and one listener rule per agent forwards to those groups by weight.

This module only applies and reads weights; creating services, target groups and rules is someone
else's job. AWS API reference:

- ModifyRule: https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_ModifyRule.html
- DescribeRules: https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeRules.html
- ForwardActionConfig: https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_ForwardActionConfig.html
- TargetGroupTuple (weights 0..999): https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetGroupTuple.html
- TargetGroupStickinessConfig (1..604800 s): https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetGroupStickinessConfig.html
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

# The same tolerance as the ``local`` target (activities/traffic.py) so both accept the same input.
WEIGHT_SUM_TOLERANCE = 1e-6
# ALB's largest weight per target group; scaling fractional percents to this total keeps one group
# at 100 % representable and gives the finest resolution ALB allows (1/999 of the traffic).
ALB_WEIGHT_TOTAL = 999
MAX_STICKINESS_SECONDS = 604_800
TARGET_GROUP_NAME_MAX = 32


class TargetError(RuntimeError):
    """AWS refused or failed a call on a listener rule.

    Attributes:
        rule_arn: the listener rule's ARN.
        operation: the API operation (``ModifyRule``, ``DescribeRules``).
        code: AWS's error code (``RuleNotFound``, ``TargetGroupNotFound``, ``AccessDenied``, ...).
    """

    def __init__(self, rule_arn: str, operation: str, code: str, message: str) -> None:
        super().__init__(f"{operation} on listener rule {rule_arn} failed: {code}: {message}")
        self.rule_arn, self.operation, self.code = rule_arn, operation, code


def alb_weights(percents: Mapping[int, float]) -> dict[int, int]:
    """ALB integer weights (0..999) for traffic percents by version, in the same proportions.

    Versions at 0 % (within 1e-6) are left out: they get no target group in the forward action.
    Rounding:

    - all percents whole numbers (within 1e-6): used as they are, so ``{1: 90, 2: 10}`` stays
      ``{1: 90, 2: 10}`` (integers 0..100 summing to 100);
    - otherwise scaled to a total of 999 and apportioned by largest remainder (each version gets the
      floor of its share, the units left go to the largest fractional parts, ties to the lower
      version), so each weight is within one unit (about 0.1 percentage point) of exact and the
      total is exactly 999;
    - a version with a positive percent never ends at 0: it gets 1 unit taken from the largest weight,
      so a tiny canary still receives traffic.

    Args:
        percents: version -> percent of traffic, each finite and >= 0, summing to 100 (±1e-6).

    Raises:
        ValueError: empty mapping, a negative or non-finite percent, or a sum other than 100.
    """
    if not percents:
        raise ValueError("traffic weights are empty; ALB needs at least one target group to forward to")
    bad = {v: p for v, p in percents.items() if not math.isfinite(p) or p < 0}
    if bad:
        raise ValueError(f"traffic weights must be finite and >= 0, got {bad}")
    total = sum(percents.values())
    if abs(total - 100.0) > WEIGHT_SUM_TOLERANCE:
        raise ValueError(f"traffic weights must sum to 100, got {total}")
    # a percent within the tolerance of 0 is float noise (e.g. 100 - 99.9999999), not a tiny canary
    positive = {v: p for v, p in percents.items() if p > WEIGHT_SUM_TOLERANCE}
    if all(abs(p - round(p)) <= WEIGHT_SUM_TOLERANCE for p in positive.values()):
        return {v: round(p) for v, p in positive.items()}
    exact = {v: p * ALB_WEIGHT_TOTAL / 100.0 for v, p in positive.items()}
    weights = {v: math.floor(x) for v, x in exact.items()}
    left = ALB_WEIGHT_TOTAL - sum(weights.values())
    for v in sorted(exact, key=lambda v: (weights[v] - exact[v], v))[:left]:
        weights[v] += 1
    for v in [v for v, w in weights.items() if w == 0]:
        weights[max(weights, key=lambda u: (weights[u], -u))] -= 1
        weights[v] = 1
    return weights


def target_group_name(agent: str, version: int) -> str:
    """A valid, deterministic ALB target group name for one agent version.

    Shape: ``<slug>-<hash>-v<version>``, at most 32 characters of ``[a-z0-9-]``, never starting or
    ending with a hyphen nor containing ``--``. ``slug`` is the agent name lowercased with every run
    of other characters turned into one hyphen, truncated to fit; ``hash`` is the first 8 hex digits
    of the SHA-256 of the exact agent name, so agents whose slugs truncate to the same text still get
    different names (a clash needs a 32-bit hash collision). Example:
    ``target_group_name("support-triage", 3) == "support-triage-<8 hex>-v3"``.

    Target group names are unique per AWS account and region, so two Shipway installations that
    share an account must use different agent names.

    Raises:
        ValueError: ``version`` is negative or too long to fit in 32 characters.
    """
    if version < 0:
        raise ValueError(f"version must be >= 0, got {version}")
    suffix = f"{hashlib.sha256(agent.encode()).hexdigest()[:8]}-v{version}"
    if len(suffix) > TARGET_GROUP_NAME_MAX:
        raise ValueError(f"version {version} is too long for a {TARGET_GROUP_NAME_MAX}-character target group name")
    room = max(0, TARGET_GROUP_NAME_MAX - len(suffix) - 1)  # - 1: the hyphen before the suffix
    slug = re.sub(r"[^a-z0-9]+", "-", agent.lower())[:room].strip("-")
    return f"{slug}-{suffix}" if slug else suffix


class AlbWeights:
    """Applies traffic weights to an ALB listener rule as one weighted ``forward`` action.

    The rule must be a non-default rule dedicated to one agent (the default rule is changed through
    ModifyListener, not ModifyRule): :meth:`apply` replaces all of its actions and leaves its
    conditions alone. Calls are synchronous boto3; run them in a thread from async code.
    """

    def __init__(self, client: Any = None, *, region: str | None = None, endpoint_url: str | None = None,
                 stickiness_seconds: int = 3600) -> None:
        """Use ``client`` (a boto3 ``elbv2`` client) or build one for ``region``/``endpoint_url``
        with boto3's usual credential chain.

        Args:
            stickiness_seconds: how long ALB keeps a client on the target group (version) it first
                got, 1..604800 seconds, so a conversation does not switch versions mid-way.

        Raises:
            ValueError: ``stickiness_seconds`` outside 1..604800.
        """
        if not 1 <= stickiness_seconds <= MAX_STICKINESS_SECONDS:
            raise ValueError(f"stickiness_seconds must be 1..{MAX_STICKINESS_SECONDS}, got {stickiness_seconds}")
        if client is None:
            import boto3

            client = boto3.client("elbv2", region_name=region, endpoint_url=endpoint_url)
        self.client = client
        self.stickiness_seconds = stickiness_seconds

    def apply(self, listener_rule_arn: str, weights: dict[int, float], target_groups: dict[int, str]) -> dict[int, int]:
        """Make the rule forward to the versions' target groups in the proportions of ``weights``.

        The rule's actions become exactly one ``forward`` action whose ``ForwardConfig`` lists
        ``{TargetGroupArn, Weight}`` for each version with a positive percent (ALB integer weights,
        rounded as :func:`alb_weights` documents) and enables target group stickiness for
        ``stickiness_seconds``. Everything is validated before the one ModifyRule call, so invalid
        input leaves the rule untouched. ALB allows at most 5 target groups in one forward action.

        Args:
            listener_rule_arn: ARN of the agent's listener rule.
            weights: version -> percent of traffic (0..100, summing to 100).
            target_groups: version -> target group ARN; needed for every version with a positive
                percent, others are ignored.

        Returns:
            version -> ALB weight now in force, for the versions in the forward action.

        Raises:
            ValueError: invalid ``weights`` (see :func:`alb_weights`), or a version with a positive
                percent and no entry in ``target_groups``.
            TargetError: AWS rejected or failed the call (e.g. ``RuleNotFound``, ``TargetGroupNotFound``).
        """
        applied = alb_weights(weights)
        missing = sorted(v for v in applied if v not in target_groups)
        if missing:
            raise ValueError(f"no target group for version(s) {missing} that have traffic weight")
        forward = {
            "Type": "forward",
            "ForwardConfig": {
                "TargetGroups": [{"TargetGroupArn": target_groups[v], "Weight": w} for v, w in sorted(applied.items())],
                "TargetGroupStickinessConfig": {"Enabled": True, "DurationSeconds": self.stickiness_seconds},
            },
        }
        self._call("ModifyRule", listener_rule_arn, self.client.modify_rule,
                   RuleArn=listener_rule_arn, Actions=[forward])
        return applied

    def current(self, listener_rule_arn: str) -> dict[str, int]:
        """The rule's forward weights as AWS reports them: target group ARN -> ALB weight (0..999).

        A plain forward to one group (``TargetGroupArn`` without ``ForwardConfig``, as rules created
        that way may be reported) counts as weight 1, which sends that group all traffic. A rule
        without a forward action gives ``{}``.

        Raises:
            TargetError: AWS rejected or failed the call (e.g. ``RuleNotFound``).
        """
        rule = self._call("DescribeRules", listener_rule_arn, self.client.describe_rules,
                          RuleArns=[listener_rule_arn])["Rules"][0]  # an unknown ARN is a RuleNotFound error
        weights: dict[str, int] = {}
        for action in rule["Actions"]:
            if action["Type"] != "forward":
                continue
            if "ForwardConfig" in action:
                for tg in action["ForwardConfig"]["TargetGroups"]:
                    # Weight is optional in the API model; read a missing one like a plain forward's
                    weights[tg["TargetGroupArn"]] = tg.get("Weight", 1)
            else:
                weights[action["TargetGroupArn"]] = 1
        return weights

    @staticmethod
    def _call(operation: str, rule_arn: str, method: Any, **kwargs: Any) -> dict[str, Any]:
        """``method(**kwargs)``, with an AWS error turned into a :class:`TargetError` naming the rule."""
        try:
            return method(**kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = error.get("Code", "Unknown"), error.get("Message", str(exc))
            raise TargetError(rule_arn, operation, code, message) from exc


class AwsTarget:
    """The ``aws`` target as the traffic activity uses it: an agent's listener rule from
    configuration (``aws_listener_rules``: agent -> rule ARN) and each version's target group found
    by its name (:func:`target_group_name`; created with the version's ECS service).

    Raises (from :meth:`apply`):
        LookupError: no listener rule configured for the agent, or a version's target group does not exist.
        ValueError, TargetError: as :meth:`AlbWeights.apply`.
    """

    def __init__(self, weights: AlbWeights, listener_rules: Mapping[str, str]) -> None:
        self.weights, self.listener_rules = weights, dict(listener_rules)

    def apply(self, agent: str, weights: dict[int, float]) -> dict[int, int]:
        """Forward the agent's traffic to its versions' target groups by ``weights`` (percent)."""
        rule = self.listener_rules.get(agent)
        if rule is None:
            raise LookupError(f"no ALB listener rule configured for agent {agent!r} (setting aws_listener_rules)")
        names = {target_group_name(agent, v): v for v, pct in weights.items() if pct > 0}
        found: dict[int, str] = {}
        if names:
            try:
                groups = self.weights.client.describe_target_groups(Names=sorted(names))["TargetGroups"]
            except ClientError as exc:
                raise LookupError(f"target groups {sorted(names)} of {agent}: {exc.response.get('Error', {}).get('Code')}") from exc
            found = {names[g["TargetGroupName"]]: g["TargetGroupArn"] for g in groups}
        return self.weights.apply(rule, weights, found)
