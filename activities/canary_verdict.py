"""The canary verdict: each metric of the canary's runs against its threshold and the stable
version's runs in the same window; pure (no I/O), so it is tested on its own.

Metrics and rules (thresholds: :class:`~workflows.types.CanaryThresholds`):

- **error rate** (failed / finished): breach when it is significantly above ``max_error_rate``:
  a one-sided exact binomial test (``scipy.stats.binomtest``, ``alternative="greater"``) against
  ``max_error_rate`` rejects at ``alpha``. An observed rate above the threshold on a handful of runs
  is then not enough, nor is a run of bad luck on a good version; a version failing 30% of its runs
  breaches from about 20 runs (p ~ 0.0003 against 5%).
- **guardrail-violation rate** (blocked + withheld / runs that ended): breach when the canary's rate
  exceeds the stable version's by more than ``max_violation_points`` percentage points and that
  excess is significant: a one-sided binomial test of the canary's violations against the stable
  rate plus the margin (the stable rate taken as known: it has most of the traffic). Without
  enough stable runs the stable rate counts as 0.
- **p99 latency**: breach above ``max_p99_ms``, or above ``max_p99_ratio`` times the stable
  version's p99 and at least ``min_p99_excess_ms`` over it. (A percentile of a few runs is noisy:
  on runs of ~200 ms one slow run took a healthy canary's p99 to 1.56 x the stable's in
  bench/canary.py; the absolute margin keeps such noise from rolling it back.)
- **cost per run** (mean USD): breach above ``max_cost_ratio`` times the stable version's mean;
  ``not_judged`` when there is no stable version or it costs nothing.

Latency and cost compare with the stable version, so they are ``inconclusive`` while the stable
version has fewer than ``min_runs`` finished runs in the window too (it has most of the traffic, so
it gets there first); without a stable version latency is held to the ceiling alone.

A metric of a canary with fewer than ``min_runs`` runs (for latency and cost: finished runs) is
``inconclusive``; the analysis is ``breach`` when any metric breached, else ``inconclusive`` when any
was, else ``pass``: a step never passes on too little evidence.
"""

from __future__ import annotations

from scipy.stats import binomtest

from workflows.statuses import CanaryVerdict
from workflows.types import CanaryAnalysis, CanaryThresholds, MetricVerdict, VersionMetrics


def _enough(m: VersionMetrics | None, t: CanaryThresholds, finished: bool = True) -> bool:
    return m is not None and (m.finished if finished else m.runs) >= t.min_runs


def _missing_runs(canary: VersionMetrics, baseline: VersionMetrics | None, t: CanaryThresholds,
                  value: float | None) -> str | None:
    """Why a metric of finished runs cannot be judged yet (the canary's ``value`` is unmeasured or
    either side has fewer than ``min_runs`` finished runs), or None when it can."""
    if not _enough(canary, t) or value is None:
        return f"needs {t.min_runs} finished runs, has {canary.finished}"
    if baseline is not None and not _enough(baseline, t):
        return f"the stable version needs {t.min_runs} finished runs, has {baseline.finished}"
    return None


def error_rate(canary: VersionMetrics, t: CanaryThresholds) -> MetricVerdict:
    """The error-rate verdict (see the module docstring)."""
    threshold = f"significantly > {t.max_error_rate:.1%} (alpha {t.alpha})"
    if why := _missing_runs(canary, None, t, canary.error_rate):
        return MetricVerdict("error_rate", CanaryVerdict.INCONCLUSIVE, canary.error_rate, None, f"{threshold}; {why}",
                             limit=t.max_error_rate)
    p = binomtest(canary.failed, canary.finished, t.max_error_rate, alternative="greater").pvalue
    verdict = CanaryVerdict.BREACH if p < t.alpha else CanaryVerdict.PASS
    return MetricVerdict("error_rate", verdict, canary.error_rate, None, threshold, p, t.max_error_rate)


def violation_rate(canary: VersionMetrics, baseline: VersionMetrics | None, t: CanaryThresholds) -> MetricVerdict:
    """The guardrail-violation-rate verdict (see the module docstring)."""
    stable = baseline.violation_rate if _enough(baseline, t, finished=False) and baseline.violation_rate is not None else 0.0
    limit = min(stable + t.max_violation_points / 100, 1.0)
    threshold = f"significantly > stable {stable:.1%} + {t.max_violation_points:g} points (alpha {t.alpha})"
    base = baseline.violation_rate if baseline else None
    if not _enough(canary, t, finished=False):
        return MetricVerdict("violation_rate", CanaryVerdict.INCONCLUSIVE, canary.violation_rate, base,
                             f"{threshold}; needs {t.min_runs} runs, has {canary.runs}", limit=limit)
    if limit >= 1.0:
        return MetricVerdict("violation_rate", CanaryVerdict.PASS, canary.violation_rate, base, threshold, limit=limit)
    p = binomtest(canary.violations, canary.runs, limit, alternative="greater").pvalue
    verdict = CanaryVerdict.BREACH if p < t.alpha else CanaryVerdict.PASS
    return MetricVerdict("violation_rate", verdict, canary.violation_rate, base, threshold, p, limit)


def p99_latency(canary: VersionMetrics, baseline: VersionMetrics | None, t: CanaryThresholds) -> MetricVerdict:
    """The p99-latency verdict (see the module docstring)."""
    relative = _enough(baseline, t) and baseline.p99_ms is not None
    limit = (min(t.max_p99_ms, max(t.max_p99_ratio * baseline.p99_ms, baseline.p99_ms + t.min_p99_excess_ms))
             if relative else t.max_p99_ms)
    threshold = f"> {t.max_p99_ms:.0f} ms" + (f" or > {t.max_p99_ratio:g} x stable {baseline.p99_ms:.0f} ms"
                                              f" (and {t.min_p99_excess_ms:.0f} ms over it)" if relative else "")
    base = baseline.p99_ms if baseline else None
    if why := _missing_runs(canary, baseline, t, canary.p99_ms):
        return MetricVerdict("p99_latency", CanaryVerdict.INCONCLUSIVE, canary.p99_ms, base, f"{threshold}; {why}", limit=limit)
    verdict = CanaryVerdict.BREACH if canary.p99_ms > limit else CanaryVerdict.PASS
    return MetricVerdict("p99_latency", verdict, canary.p99_ms, base, threshold, limit=limit)


def cost_per_run(canary: VersionMetrics, baseline: VersionMetrics | None, t: CanaryThresholds) -> MetricVerdict:
    """The cost-per-run verdict (see the module docstring)."""
    base = baseline.cost_per_run_usd if baseline else None
    threshold = f"> {t.max_cost_ratio:g} x stable" + (f" ${base:.4f}" if base is not None else "")
    limit = t.max_cost_ratio * base if base else None
    if why := _missing_runs(canary, baseline, t, canary.cost_per_run_usd):
        return MetricVerdict("cost_per_run", CanaryVerdict.INCONCLUSIVE, canary.cost_per_run_usd, base, f"{threshold}; {why}",
                             limit=limit)
    if not base:
        return MetricVerdict("cost_per_run", CanaryVerdict.NOT_JUDGED, canary.cost_per_run_usd, base,
                             f"{threshold}; no stable version with a cost to compare with")
    verdict = CanaryVerdict.BREACH if canary.cost_per_run_usd > limit else CanaryVerdict.PASS
    return MetricVerdict("cost_per_run", verdict, canary.cost_per_run_usd, base, threshold, limit=limit)


def judge(canary: VersionMetrics, baseline: VersionMetrics | None, t: CanaryThresholds) -> CanaryAnalysis:
    """Every metric's verdict and the overall one; ``reasons`` name each breach with its values and
    threshold, e.g. ``ERROR_RATE 30.0% (6/20 runs, p=0.0003): significantly > 5.0% (alpha 0.05)``."""
    metrics = [error_rate(canary, t), p99_latency(canary, baseline, t), violation_rate(canary, baseline, t),
               cost_per_run(canary, baseline, t)]
    reasons = [_reason(m, canary) for m in metrics if m.verdict == CanaryVerdict.BREACH]
    overall = (CanaryVerdict.BREACH if reasons else
               CanaryVerdict.INCONCLUSIVE if any(m.verdict == CanaryVerdict.INCONCLUSIVE for m in metrics) else CanaryVerdict.PASS)
    return CanaryAnalysis(breach=bool(reasons), reasons=reasons, canary=canary, baseline=baseline, verdict=overall, metrics=metrics)


def _reason(m: MetricVerdict, canary: VersionMetrics) -> str:
    if m.metric == "error_rate":
        value = f"{m.canary:.1%} ({canary.failed}/{canary.finished} runs, p={m.p_value:.2g})"
    elif m.metric == "violation_rate":
        value = f"{m.canary:.1%} ({canary.violations}/{canary.runs} runs, p={m.p_value:.2g})"
    elif m.metric == "p99_latency":
        value = f"{m.canary:.0f} ms"
    else:
        value = f"${m.canary:.4f}"
    return f"{m.metric.upper()} {value}: {m.threshold}"
