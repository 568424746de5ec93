"""Track record of the signal rules on the shipped data: how often a bullish (bearish) signal was
followed by a rise (fall) over the next ``N`` trading days.

For every ticker of the data set, every ``N``-th trading day (so that the outcome periods of one
ticker do not overlap) from the first day all indicators are defined, the rules of
``tools/signals.py`` are applied exactly as in a run (indicators of ``tools/indicators.py`` up to
that day, window statistics over the preceding ``window_trading_days``) and the signal is set
against the return of the adjusted close over the next ``N`` trading days. Technical rules only:
the data hold no dated headlines, so the sentiment rules cannot be tested (their weight is
untested). A run reports only the samples whose outcome was known by its ``end``.

Hit rate: share of bullish signals followed by a rise (bearish: by a fall); it is worth something
only above the base rate, the share of all samples followed by a rise (fall), which is above
one half for stocks that rose over the period. Mean forward returns are in percent.
"""

from __future__ import annotations

import json
from datetime import date
from functools import lru_cache

import pandas as pd

from reference_agents.financial_analysis.tools.indicators import indicator_frame, indicators_at
from reference_agents.financial_analysis.tools.market_data import adjusted_stats, coverage, history
from reference_agents.financial_analysis.tools.signals import SIGNALS, classify, reason_codes

NO_SENTIMENT = {"label": "none"}


@lru_cache(maxsize=8)
def _samples(policy_json: str) -> pd.DataFrame:
    policy = json.loads(policy_json)
    tr, rules, params = policy["track_record"], policy["signals"], policy["indicators"]
    horizon, window = tr["horizon_trading_days"], tr["window_trading_days"]
    days_per_year = policy["data"]["trading_days_per_year"]
    rows = []
    for ticker in sorted(coverage()):
        adj = history(ticker, None, None)["adj_close"]
        frame = indicator_frame(adj, params)
        first = max(frame.index.get_loc(frame.dropna().index[0]), window - 1)
        for pos in range(first, len(adj) - horizon, horizon):
            market = adjusted_stats(adj.iloc[pos - window + 1 : pos + 1], days_per_year)
            indicators = indicators_at(frame, pos, rules["macd_cross_lookback_days"])
            codes = reason_codes(market, indicators, NO_SENTIMENT, rules, params["sma_windows"])
            score = sum(rules["weights"][c] for c in codes)
            rows.append({"ticker": ticker, "date": adj.index[pos], "outcome_date": adj.index[pos + horizon],
                         "signal": classify(score, rules), "score": score, "reasons": tuple(codes),
                         "forward_return": float(adj.iloc[pos + horizon] / adj.iloc[pos] - 1.0)})
    return pd.DataFrame(rows)


def signal_samples(policy: dict) -> pd.DataFrame:
    """All samples for ``policy`` (cached per policy): one row per ticker and sample day with
    ``ticker``, ``date``, ``outcome_date`` (``horizon_trading_days`` later), ``signal``, ``score``,
    ``reasons`` (tuple of codes) and ``forward_return`` (fraction, adjusted close)."""
    return _samples(json.dumps(policy, sort_keys=True))


def summarise(samples: pd.DataFrame, horizon: int, min_count: int) -> dict:
    """Hit rates of ``samples`` (:func:`signal_samples` rows).

    Returns:
        ``{"horizon_trading_days", "n_samples", "first_date", "last_date", "base_rate_up",
        "signals": {signal: {"count", "hit_rate", "mean_forward_return_pct"}}}``; the hit rate of
        ``bullish`` is the share followed by a rise, of ``bearish`` by a fall, of ``neutral`` the
        share followed by a rise; ``None`` with fewer than ``min_count`` samples (too few to say).
    """
    out: dict = {"horizon_trading_days": horizon, "n_samples": int(len(samples))}
    if samples.empty:
        return {**out, "first_date": None, "last_date": None, "base_rate_up": None,
                "signals": {s: {"count": 0, "hit_rate": None, "mean_forward_return_pct": None} for s in SIGNALS}}
    up = samples["forward_return"] > 0
    out |= {"first_date": samples["date"].min().date().isoformat(),
            "last_date": samples["date"].max().date().isoformat(),
            "base_rate_up": round(float(up.mean()), 4), "signals": {}}
    for signal in SIGNALS:
        sub = samples[samples["signal"] == signal]
        hit = sub["forward_return"] < 0 if signal == "bearish" else sub["forward_return"] > 0
        enough = len(sub) >= min_count
        out["signals"][signal] = {
            "count": int(len(sub)),
            "hit_rate": round(float(hit.mean()), 4) if enough else None,
            "mean_forward_return_pct": round(100 * float(sub["forward_return"].mean()), 4) if enough else None,
        }
    return out


def track_record(policy: dict, end: date) -> dict:
    """The rules' track record from the samples whose outcome was known by ``end``
    (:func:`summarise`), plus ``sampled_every_trading_days``, ``tickers`` and ``rules_tested``
    (``"technical only: no dated headlines in the data"``)."""
    tr = policy["track_record"]
    samples = signal_samples(policy)
    known = samples[samples["outcome_date"] <= pd.Timestamp(end)]
    return {**summarise(known, tr["horizon_trading_days"], tr["min_count"]),
            "sampled_every_trading_days": tr["horizon_trading_days"],
            "tickers": sorted(coverage()),
            "rules_tested": "technical only: no dated headlines in the data"}
