"""Fundamentals screen from the user's own CSV (config key ``fundamentals_csv``).

The agent ships no fundamentals. The CSV has a ``ticker`` column and any of ``pe_ratio``
(price / trailing earnings), ``dividend_yield_pct`` (% a year) and ``debt_to_equity`` (ratio);
blank cells are unknown and never fail a rule.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

METRIC_COLUMNS = ("pe_ratio", "dividend_yield_pct", "debt_to_equity")


class FundamentalsFileError(ValueError):
    """The fundamentals CSV is missing or malformed; the message names the file and problem."""


def load_fundamentals(path: str | Path) -> dict[str, dict[str, float | None]]:
    """Read the CSV into ``{ticker: {metric: value or None}}`` (tickers upper-cased).

    Raises:
        FundamentalsFileError: file missing, no ``ticker`` column, no known metric column, a
            non-numeric metric, or a duplicated ticker.
    """
    p = Path(path)
    if not p.is_file():
        raise FundamentalsFileError(f"fundamentals_csv {str(p)!r} does not exist")
    df = pd.read_csv(p)
    df.columns = [c.strip().lower() for c in df.columns]
    if "ticker" not in df.columns:
        raise FundamentalsFileError(f"fundamentals_csv {str(p)!r} has no 'ticker' column")
    metrics = [c for c in METRIC_COLUMNS if c in df.columns]
    if not metrics:
        raise FundamentalsFileError(f"fundamentals_csv {str(p)!r} has none of the columns {list(METRIC_COLUMNS)}")
    df["ticker"] = df["ticker"].astype(str).str.strip().str.upper()
    dupes = sorted(df.loc[df["ticker"].duplicated(), "ticker"].unique())
    if dupes:
        raise FundamentalsFileError(f"fundamentals_csv {str(p)!r} lists tickers more than once: {dupes}")
    for col in metrics:
        try:
            df[col] = pd.to_numeric(df[col])
        except (ValueError, TypeError) as exc:
            raise FundamentalsFileError(f"fundamentals_csv {str(p)!r}: column {col!r} is not numeric ({exc})") from exc
    out = {}
    for row in df.to_dict("records"):
        out[row["ticker"]] = {
            c: (None if c not in metrics or row[c] is None or math.isnan(row[c]) else float(row[c]))
            for c in METRIC_COLUMNS
        }
    return out


def screen(fundamentals: dict[str, dict], tickers: list[str], rules: dict) -> dict[str, dict]:
    """Apply the policy's ``fundamentals`` rules to each of ``tickers``.

    Rules (None disables one): ``pe_ratio`` <= 0 fails as ``NEGATIVE_EARNINGS`` and above
    ``max_pe_ratio`` as ``PE_ABOVE_MAX``; ``debt_to_equity`` above ``max_debt_to_equity`` fails as
    ``DEBT_TO_EQUITY_ABOVE_MAX``; ``dividend_yield_pct`` below ``min_dividend_yield_pct`` fails as
    ``DIVIDEND_YIELD_BELOW_MIN``. A ticker absent from the CSV passes with ``NO_FUNDAMENTALS_DATA``.

    Returns:
        ``{ticker: {"passed": bool, "reasons": [codes], **metrics}}``.
    """
    out = {}
    for t in tickers:
        row = fundamentals.get(t)
        if row is None:
            out[t] = {"passed": True, "reasons": ["NO_FUNDAMENTALS_DATA"], **{c: None for c in METRIC_COLUMNS}}
            continue
        reasons = []
        pe, de, dy = row["pe_ratio"], row["debt_to_equity"], row["dividend_yield_pct"]
        if pe is not None and pe <= 0:
            reasons.append("NEGATIVE_EARNINGS")
        elif pe is not None and rules.get("max_pe_ratio") is not None and pe > rules["max_pe_ratio"]:
            reasons.append("PE_ABOVE_MAX")
        if de is not None and rules.get("max_debt_to_equity") is not None and de > rules["max_debt_to_equity"]:
            reasons.append("DEBT_TO_EQUITY_ABOVE_MAX")
        if dy is not None and rules.get("min_dividend_yield_pct") is not None and dy < rules["min_dividend_yield_pct"]:
            reasons.append("DIVIDEND_YIELD_BELOW_MIN")
        out[t] = {"passed": not reasons, "reasons": reasons, **row}
    return out
