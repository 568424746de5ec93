"""Rollout strategies named as AWS CodeDeploy names its predefined deployment configurations
(``CodeDeployDefault.ECS*`` / Lambda: AllAtOnce, Canary10Percent5Minutes, ...)."""

from __future__ import annotations

from workflows.types import DeploymentStep

STRATEGIES: dict[str, list[DeploymentStep]] = {
    "AllAtOnce": [DeploymentStep(100, 0)],
    "Canary10Percent5Minutes": [DeploymentStep(10, 300), DeploymentStep(100, 0)],
    "Canary10Percent15Minutes": [DeploymentStep(10, 900), DeploymentStep(100, 0)],
    "Linear10PercentEvery1Minute": [DeploymentStep(10 * i, 60 if i < 10 else 0) for i in range(1, 11)],
    "Linear10PercentEvery3Minutes": [DeploymentStep(10 * i, 180 if i < 10 else 0) for i in range(1, 11)],
}


def steps_for(strategy: str, custom: list[DeploymentStep] | None = None) -> list[DeploymentStep]:
    """The steps of a named strategy, or ``custom`` steps (which must end at 100 %).

    Raises:
        ValueError: unknown strategy name, or custom steps not ending at 100 %.
    """
    if custom:
        if custom[-1].weight_pct != 100:
            raise ValueError("custom deployment steps must end at weight_pct 100")
        return custom
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown deployment strategy {strategy!r}; known: {', '.join(STRATEGIES)}")
    return STRATEGIES[strategy]
