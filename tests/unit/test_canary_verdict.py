"""The canary verdict on its own: each metric against its threshold and the stable version, with the
minimum sample size and the one-sided tests of :mod:`activities.canary_verdict`."""

from __future__ import annotations

import pytest

from activities.canary import thresholds_of
from activities.canary_verdict import judge
from workflows.statuses import CanaryVerdict
from workflows.types import CanaryAnalysisInput, CanaryThresholds, VersionMetrics

T = CanaryThresholds()


def metrics(finished: int = 40, failed: int = 0, p99: float | None = 800.0, cost: float | None = 0.01,
            violations: int = 0) -> VersionMetrics:
    runs = finished + violations
    return VersionMetrics(finished=finished, failed=failed, error_rate=failed / finished if finished else None, p99_ms=p99,
                          cost_per_run_usd=cost, runs=runs, violations=violations,
                          violation_rate=violations / runs if runs else None)


def by_metric(analysis) -> dict[str, CanaryVerdict]:
    return {m.metric: m.verdict for m in analysis.metrics}


def test_a_healthy_canary_with_enough_runs_passes():
    a = judge(metrics(), metrics(200), T)
    assert (a.verdict, a.breach, a.reasons) == (CanaryVerdict.PASS, False, [])
    assert set(by_metric(a).values()) == {CanaryVerdict.PASS}


def test_thirty_percent_failures_breach_at_the_minimum_sample_with_the_values_in_the_reason():
    a = judge(metrics(20, failed=6), metrics(200), T)
    assert a.verdict == CanaryVerdict.BREACH and by_metric(a)["error_rate"] == CanaryVerdict.BREACH
    [reason] = a.reasons
    assert reason.startswith("ERROR_RATE 30.0% (6/20 runs, p=0.0003") and "5.0%" in reason


def test_a_rate_just_over_the_threshold_on_few_runs_is_not_a_breach():
    """2 failures in 20 (10%) is not significant evidence that the true rate is over 5% (p ~ 0.26)."""
    a = judge(metrics(20, failed=2), metrics(200), T)
    assert by_metric(a)["error_rate"] == CanaryVerdict.PASS
    [error] = [m for m in a.metrics if m.metric == "error_rate"]
    assert error.p_value == pytest.approx(0.2642, abs=1e-3)


def test_too_few_runs_is_inconclusive_never_a_pass():
    a = judge(metrics(19), metrics(200), T)
    assert a.verdict == CanaryVerdict.INCONCLUSIVE and not a.breach
    assert by_metric(a)["error_rate"] == CanaryVerdict.INCONCLUSIVE
    assert "needs 20 finished runs, has 19" in a.metrics[0].threshold


def test_a_breach_wins_over_an_inconclusive_metric():
    a = judge(metrics(25, failed=10, cost=None), metrics(200), T)
    assert a.verdict == CanaryVerdict.BREACH and by_metric(a)["cost_per_run"] == CanaryVerdict.INCONCLUSIVE


def test_cost_three_times_the_stable_version_breaches_and_without_a_paid_stable_version_is_not_judged():
    a = judge(metrics(cost=0.03), metrics(200, cost=0.01), T)
    assert by_metric(a)["cost_per_run"] == CanaryVerdict.BREACH
    assert any(r.startswith("COST_PER_RUN $0.0300") for r in a.reasons)
    assert by_metric(judge(metrics(cost=0.03), metrics(200, cost=0.0), T))["cost_per_run"] == CanaryVerdict.NOT_JUDGED
    assert judge(metrics(cost=0.03), None, T).verdict == CanaryVerdict.PASS  # first rollout: nothing to compare cost with


def test_guardrail_violations_over_stable_plus_the_margin_breach():
    rising = judge(metrics(40, violations=10), metrics(200, violations=4), T)  # 20% vs 2%
    assert by_metric(rising)["violation_rate"] == CanaryVerdict.BREACH
    assert any(r.startswith("VIOLATION_RATE 20.0% (10/50 runs") for r in rising.reasons)
    level = judge(metrics(40, violations=1), metrics(200, violations=4), T)  # 2.4% vs 2%
    assert by_metric(level)["violation_rate"] == CanaryVerdict.PASS


def test_p99_over_the_ceiling_or_the_ratio_of_stable_breaches():
    assert by_metric(judge(metrics(p99=6000), metrics(200, p99=5500), T))["p99_latency"] == CanaryVerdict.BREACH
    assert by_metric(judge(metrics(p99=1300), metrics(200, p99=800), T))["p99_latency"] == CanaryVerdict.BREACH
    assert by_metric(judge(metrics(p99=1100), metrics(200, p99=800), T))["p99_latency"] == CanaryVerdict.PASS
    # a stable version with too few runs in the window: not judged yet; no stable version: the ceiling alone
    assert by_metric(judge(metrics(p99=1300), metrics(5, p99=800), T))["p99_latency"] == CanaryVerdict.INCONCLUSIVE
    assert by_metric(judge(metrics(p99=1300), None, T))["p99_latency"] == CanaryVerdict.PASS


def test_cost_waits_for_the_stable_versions_runs_too():
    """A canary at 50 % can reach the minimum before the stable version: its cost is not passed yet."""
    a = judge(metrics(cost=0.03), metrics(8, cost=0.01), T)
    assert by_metric(a)["cost_per_run"] == CanaryVerdict.INCONCLUSIVE and a.verdict == CanaryVerdict.INCONCLUSIVE


def test_thresholds_come_from_the_spec_or_an_older_rollouts_fields():
    custom = CanaryThresholds(min_runs=5)
    assert thresholds_of(CanaryAnalysisInput("a", 2, 1, "2026-01-01T00:00:00+00:00", thresholds=custom)) is custom
    legacy = thresholds_of(CanaryAnalysisInput("a", 2, 1, "2026-01-01T00:00:00+00:00", max_error_rate=0.1, min_runs=3))
    assert (legacy.max_error_rate, legacy.min_runs, legacy.max_p99_ratio) == (0.1, 3, 2.0)
