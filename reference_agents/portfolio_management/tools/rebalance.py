"""Rebalance orders: from current holdings to target weights, in whole shares at the as-of close."""

from __future__ import annotations

import math

from reference_agents.portfolio_management.tools.risk import CASH


def holdings_weights(shares: dict[str, float], cash_usd: float, prices_usd: dict[str, float]) -> dict[str, float]:
    """Weights (fractions of portfolio value) of ``shares`` and ``cash_usd``, ``"CASH"`` included.

    Raises:
        ValueError: the portfolio is worth nothing.
    """
    values = {t: s * prices_usd[t] for t, s in shares.items()}
    total = sum(values.values()) + cash_usd
    if total <= 0:
        raise ValueError("portfolio value must be positive")
    out = {t: v / total for t, v in values.items()}
    out[CASH] = cash_usd / total
    return out


def one_way_turnover(before: dict[str, float], after: dict[str, float]) -> float:
    """Half the sum of absolute weight changes, cash included (1.0 = the whole portfolio traded once)."""
    keys = set(before) | set(after)
    return 0.5 * sum(abs(after.get(k, 0.0) - before.get(k, 0.0)) for k in keys)


def rebalance_orders(
    shares: dict[str, float],
    cash_usd: float,
    prices_usd: dict[str, float],
    target_weights: dict[str, float],
    min_trade_usd: float,
    reason_codes: dict[str, list[str]] | None = None,
) -> dict:
    """Orders (whole shares at the given closes) moving ``shares`` + ``cash_usd`` to ``target_weights``.

    Each ticker's trade is ``round(target_weight * value / price - current_shares)``. Trades worth
    less than ``min_trade_usd`` are skipped. If the buys then cost more than the cash available,
    the largest buys are cut share by share until cash is non-negative (no leverage).

    Args:
        shares: current shares per ticker (may be fractional when derived from weights).
        cash_usd: current cash, USD (>= 0).
        prices_usd: as-of close per ticker.
        target_weights: fractions per ticker summing to <= 1 (the rest stays in cash).
        min_trade_usd: smallest order value to send.
        reason_codes: extra per-ticker codes (signals, screens) attached to that ticker's order.

    Returns:
        ``{"orders": [...], "skipped_orders": [...], "portfolio_value_usd", "cash_after_usd",
        "current_weights", "post_trade_weights", "post_trade_shares", "turnover_fraction",
        "traded_value_usd"}``. An order is ``{"ticker", "side" ("buy"|"sell"), "shares" (int > 0),
        "price_usd", "value_usd", "weight_current", "weight_target", "reasons"}``.
    """
    reason_codes = reason_codes or {}
    tickers = sorted(set(shares) | set(target_weights))
    current = {t: float(shares.get(t, 0.0)) for t in tickers}
    current_w = holdings_weights(current, cash_usd, prices_usd)
    value = sum(current[t] * prices_usd[t] for t in tickers) + cash_usd

    trades: dict[str, int] = {}
    skipped = []
    for t in tickers:
        qty = round(target_weights.get(t, 0.0) * value / prices_usd[t] - current[t])
        if qty == 0:
            continue
        if abs(qty) * prices_usd[t] < min_trade_usd:
            skipped.append({"ticker": t, "shares": int(qty), "value_usd": round(qty * prices_usd[t], 2),
                            "reason": "BELOW_MIN_TRADE"})
            continue
        trades[t] = int(qty)

    cash_after = cash_usd - sum(q * prices_usd[t] for t, q in trades.items())
    while cash_after < -1e-9:
        buys = [t for t, q in trades.items() if q > 0]
        if not buys:
            break
        largest = max(buys, key=lambda t: trades[t] * prices_usd[t])
        cut = min(trades[largest], math.ceil(-cash_after / prices_usd[largest]))
        trades[largest] -= cut
        cash_after += cut * prices_usd[largest]
        if trades[largest] == 0:
            del trades[largest]

    post_shares = {t: current[t] + trades.get(t, 0) for t in tickers}
    post_w = holdings_weights(post_shares, cash_after, prices_usd)
    orders = []
    for t, q in sorted(trades.items()):
        side = "buy" if q > 0 else "sell"
        if side == "buy":
            code = "NEW_POSITION" if current[t] == 0 else "UNDERWEIGHT_VS_TARGET"
        else:
            code = "EXIT_POSITION" if post_shares[t] == 0 else "OVERWEIGHT_VS_TARGET"
        orders.append({
            "ticker": t,
            "side": side,
            "shares": abs(q),
            "price_usd": round(prices_usd[t], 4),
            "value_usd": round(abs(q) * prices_usd[t], 2),
            "weight_current": round(current_w[t], 6),
            "weight_target": round(target_weights.get(t, 0.0), 6),
            "reasons": [code, *reason_codes.get(t, [])],
        })
    return {
        "orders": orders,
        "skipped_orders": skipped,
        "portfolio_value_usd": round(value, 2),
        "cash_after_usd": round(cash_after, 2),
        "current_weights": current_w,
        "post_trade_weights": post_w,
        "post_trade_shares": post_shares,
        "turnover_fraction": round(one_way_turnover(current_w, post_w), 6),
        "traded_value_usd": round(sum(o["value_usd"] for o in orders), 2),
    }
