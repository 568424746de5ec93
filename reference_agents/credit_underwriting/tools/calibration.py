"""Calibration of the scorecard's PDs: a reliability table by PD decile, at the population prior.

The sample over-represents bad credits (30 % bad), so an observed bad rate per decile is a sample
rate; reweighting each bad application by ``prior / 0.3`` and each good one by ``(1 - prior) / 0.7``
gives the rate the population would show (the same reweighting that justifies the prior correction
of the intercept). Predicted and observed are then comparable on both scales.
"""

from __future__ import annotations

from typing import Sequence

from reference_agents.credit_underwriting.tools.scorecard import population_pd, sample_bad_rate


def reliability_table(sample_pds: Sequence[float], bad: Sequence[int], population_bad_rate: float,
                      groups: int = 10) -> list[dict]:
    """Predicted vs observed bad rate per PD group (deciles by default), lowest PD first.

    Args:
        sample_pds: out-of-sample PDs on the sample scale (0-1), one per application.
        bad: 1 if the application is bad, else 0.
        population_bad_rate: the prior the PDs are corrected to (0-1).
        groups: number of equal-count groups.

    Returns:
        one dict per group: ``n``, ``weight`` (its applications' total population weight),
        ``pd_min``/``pd_max``/``predicted`` (population PD, 0-1; predicted is the reweighted mean),
        ``observed`` (reweighted bad rate, 0-1), ``predicted_sample`` and ``observed_sample``
        (unweighted, sample scale).
    """
    rho = sample_bad_rate()
    w_bad, w_good = population_bad_rate / rho, (1 - population_bad_rate) / (1 - rho)
    rows = sorted(zip(sample_pds, bad))
    out = []
    for g in range(groups):
        part = rows[g * len(rows) // groups:(g + 1) * len(rows) // groups]
        weights = [w_bad if b else w_good for _, b in part]
        pop = [population_pd(p, population_bad_rate) for p, _ in part]
        out.append({
            "n": len(part),
            "weight": sum(weights),
            "pd_min": pop[0],
            "pd_max": pop[-1],
            "predicted": sum(w * p for w, p in zip(weights, pop)) / sum(weights),
            "observed": sum(w for w, (_, b) in zip(weights, part) if b) / sum(weights),
            "predicted_sample": sum(p for p, _ in part) / len(part),
            "observed_sample": sum(b for _, b in part) / len(part),
        })
    return out


def overall(table: list[dict]) -> tuple[float, float]:
    """``(predicted, observed)`` bad rate over all groups of a :func:`reliability_table`, reweighted (0-1)."""
    total = sum(g["weight"] for g in table)
    return (sum(g["predicted"] * g["weight"] for g in table) / total,
            sum(g["observed"] * g["weight"] for g in table) / total)
