"""Financial analysis: how much the signals are worth, as hit rates on the shipped data.

The agent's technical rules are replayed on every ticker, every N-th trading day
(``tools.track_record``: the same indicators and rules as a run, nothing after the signal day),
and each signal is set against the move of the adjusted close over the next N trading days. A
hit is a rise after a bullish signal, a fall after a bearish one. A hit rate means something only
against the base rate: the share of all samples of the same tickers that rose (fell); the
binomial test asks whether the hits exceed what that base rate gives by chance (one-sided).
The sentiment rules cannot be replayed: the data hold no dated headlines. Deterministic; about
15 seconds. Run alone: ``python -m bench.model_review_financial``.
"""

from __future__ import annotations

import pandas as pd
from scipy.stats import binomtest

from reference_agents.financial_analysis.policy import load_policy
from reference_agents.financial_analysis.tools.signals import SIGNALS
from reference_agents.financial_analysis.tools.track_record import signal_samples

HORIZONS = (5, 20, 60)


def _row(label: str, sub: pd.DataFrame, samples: pd.DataFrame, rise: bool) -> str:
    """One line: count, hit rate, ticker-matched base rate, p-value, mean forward return."""
    if sub.empty:
        return f"    {label:<28} count    0"
    hits = int(((sub["forward_return"] > 0) if rise else (sub["forward_return"] < 0)).sum())
    by_ticker = samples.groupby("ticker")["forward_return"].apply(lambda r: float(((r > 0) if rise else (r < 0)).mean()))
    base = float(sub["ticker"].map(by_ticker).mean())  # what random signals on the same tickers would hit
    p = binomtest(hits, len(sub), base, alternative="greater").pvalue
    return (f"    {label:<28} count {len(sub):4d}, hit rate {hits / len(sub):6.1%} ({'rise' if rise else 'fall'}) vs base "
            f"{base:6.1%}, one-sided p = {p:.3f}, mean next-{samples.attrs['horizon']}-day return "
            f"{100 * sub['forward_return'].mean():+.2f}% (all samples {100 * samples['forward_return'].mean():+.2f}%)")


def review() -> list[str]:
    """The lines a model validator asks for (see the module docstring)."""
    base_policy = load_policy()
    lines = ["Signal hit rates of the technical rules (sentiment not testable: no dated headlines shipped); "
             "tickers AAPL, FB, GOOG, IBM, MSFT, 2000-2013; non-overlapping samples per ticker."]
    for horizon in HORIZONS:
        policy = load_policy({"track_record": {"horizon_trading_days": horizon}})
        samples = signal_samples(policy)
        samples.attrs["horizon"] = horizon
        lines.append(f"  N = {horizon} trading days: {len(samples)} samples "
                     f"({samples['date'].min().date()}..{samples['date'].max().date()}), "
                     f"{(samples['forward_return'] > 0).mean():.1%} rose")
        for signal in SIGNALS:
            lines.append(_row(signal, samples[samples["signal"] == signal], samples, rise=signal != "bearish"))
    samples = signal_samples(base_policy)
    horizon = base_policy["track_record"]["horizon_trading_days"]
    samples.attrs["horizon"] = horizon
    lines.append(f"  Per reason code, N = {horizon} (a code with a positive weight hits on a rise, negative on a "
                 f"fall; weight 0: shown as a rise):")
    weights = base_policy["signals"]["weights"]
    for code, weight in weights.items():
        if code.startswith("SENTIMENT_"):
            continue
        sub = samples[samples["reasons"].apply(lambda codes, c=code: c in codes)]
        lines.append(_row(f"{code} ({weight:+d})", sub, samples, rise=weight >= 0))
    return lines


if __name__ == "__main__":
    print("\n".join(review()))
