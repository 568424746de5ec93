"""Rollout strategies named as AWS CodeDeploy names its predefined deployment configurations
(``CodeDeployDefault.ECS*`` / Lambda: AllAtOnce, Canary10Percent5Minutes, ...), and ``Custom``
steps given in the spec."""

from __future__ import annotations

from workflows.types import DeploymentStep

CUSTOM = "Custom"
STRATEGIES: dict[str, list[DeploymentStep]] = {
    "AllAtOnce": [DeploymentStep(100, 0)],
    "Canary10Percent5Minutes": [DeploymentStep(10, 300), DeploymentStep(100, 0)],
    "Canary10Percent15Minutes": [DeploymentStep(10, 900), DeploymentStep(100, 0)],
    "Linear10PercentEvery1Minute": [DeploymentStep(10 * i, 60 if i < 10 else 0) for i in range(1, 11)],
    "Linear10PercentEvery3Minutes": [DeploymentStep(10 * i, 180 if i < 10 else 0) for i in range(1, 11)],
}
KNOWN = (*STRATEGIES, CUSTOM)


def steps_for(strategy: str, custom: list[DeploymentStep] | None = None) -> list[DeploymentStep]:
    """The steps of a named strategy, or the ``custom`` steps of strategy ``Custom``.

    Custom steps route an increasing share of traffic (percent, 0 < weight <= 100), end at 100,
    and bake a non-negative number of seconds each.

    Raises:
        ValueError: unknown strategy name (the message lists the known ones), custom steps with a
            named strategy or none with ``Custom``, or custom steps breaking the rules above.
    """
    if strategy == CUSTOM:
        if not custom:
            raise ValueError("strategy Custom needs 'steps': a list of {weight_pct, bake_s}")
        weights = [s.weight_pct for s in custom]
        if any(not 0 < w <= 100 for w in weights) or weights != sorted(set(weights)):
            raise ValueError(f"custom steps must have strictly increasing weights in (0, 100], got {weights}")
        if weights[-1] != 100:
            raise ValueError("custom deployment steps must end at weight_pct 100")
        if any(s.bake_s < 0 for s in custom):
            raise ValueError("custom steps must have bake_s >= 0")
        return custom
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown deployment strategy {strategy!r}; known: {', '.join(KNOWN)}")
    if custom:
        raise ValueError(f"steps are only taken with strategy {CUSTOM!r}, not {strategy!r}")
    return STRATEGIES[strategy]
