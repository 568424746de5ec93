"""The agent spec: deployment strategies are validated where the spec is, naming the known ones."""

from __future__ import annotations

import pytest

from shipway.spec import SpecError, parse_spec
from workflows.strategies import KNOWN, STRATEGIES, steps_for
from workflows.types import DeploymentStep

BASE = {"name": "loan-triage", "owner": "olivia@bank.example", "description": "Triage of loan applications.",
        "template": "credit_underwriting"}


def _errors(**deployment) -> dict[str, str]:
    with pytest.raises(SpecError) as exc:
        parse_spec({**BASE, "deployment": deployment})
    return dict(exc.value.errors)


def test_unknown_strategy_is_a_field_error_naming_the_known_ones():
    errors = _errors(strategy="BlueGreenPlease")
    assert set(errors) == {"deployment.strategy"}
    assert all(name in errors["deployment.strategy"] for name in KNOWN)


@pytest.mark.parametrize("steps, message", [
    (None, "needs 'steps'"),
    ([{"weight_pct": 10, "bake_s": 60}], "end at weight_pct 100"),
    ([{"weight_pct": 50}, {"weight_pct": 10}, {"weight_pct": 100}], "strictly increasing"),
    ([{"weight_pct": 10, "bake_s": -1}, {"weight_pct": 100}], "bake_s >= 0"),
])
def test_custom_steps_are_checked(steps, message):
    assert message in _errors(strategy="Custom", steps=steps)["deployment"]


def test_steps_with_a_named_strategy_are_refused():
    assert "only taken with strategy 'Custom'" in _errors(strategy="AllAtOnce", steps=[{"weight_pct": 100}])["deployment"]


def test_valid_strategies_pass():
    for name in STRATEGIES:
        assert parse_spec({**BASE, "deployment": {"strategy": name}}).deployment.strategy == name
    spec = parse_spec({**BASE, "deployment": {"strategy": "Custom", "steps": [{"weight_pct": 25, "bake_s": 30}, {"weight_pct": 100}]}})
    assert spec.deployment.deployment_steps() == [DeploymentStep(25, 30), DeploymentStep(100, 0)]
    assert steps_for("Custom", spec.deployment.deployment_steps()) == [DeploymentStep(25, 30), DeploymentStep(100, 0)]


def test_tenant_makes_an_agent_private_and_must_be_a_short_non_empty_name():
    assert parse_spec(BASE).tenant is None
    assert parse_spec({**BASE, "tenant": "bank-a"}).tenant == "bank-a"
    for bad in ("", "x" * 101, 7):
        with pytest.raises(SpecError) as exc:
            parse_spec({**BASE, "tenant": bad})
        assert "tenant" in dict(exc.value.errors)
