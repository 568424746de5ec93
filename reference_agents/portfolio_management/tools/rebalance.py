"""Rebalance orders: from current holdings to target weights, in whole shares at as-traded prices,
or in USD when no as-traded price is known."""

from __future__ import annotations

import math

from reference_agents.portfolio_management.tools.risk import CASH


def holdings_weights(values_usd: dict[str, float], cash_usd: float) -> dict[str, float]:
    """Weights (fractions of portfolio value) of positions worth ``values_usd`` and ``cash_usd``,
    ``"CASH"`` included.

    Raises:
        ValueError: the portfolio is worth nothing.
    """
    total = sum(values_usd.values()) + cash_usd
    if total <= 0:
        raise ValueError("portfolio value must be positive")
    out = {t: v / total for t, v in values_usd.items()}
    out[CASH] = cash_usd / total
    return out


def one_way_turnover(before: dict[str, float], after: dict[str, float]) -> float:
    """Half the sum of absolute weight changes, cash included (1.0 = the whole portfolio traded once)."""
    keys = set(before) | set(after)
    return 0.5 * sum(abs(after.get(k, 0.0) - before.get(k, 0.0)) for k in keys)


def _round_units(x: float, whole: bool) -> float:
    return float(round(x)) if whole else round(x, 2)


def rebalance_orders(
    units: dict[str, float],
    unit_prices_usd: dict[str, float],
    cash_usd: float,
    target_weights: dict[str, float],
    min_trade_usd: float,
    whole_units: bool,
    reason_codes: dict[str, list[str]] | None = None,
) -> dict:
    """Orders moving ``units`` + ``cash_usd`` to ``target_weights``.

    A unit is a share priced at its as-traded price (``whole_units``: orders in whole shares), or
    one USD of value priced at 1.0 (orders in USD, rounded to cents; used when no as-traded price
    is known). Each ticker's trade is ``round(target_weight * value / price - units)``. Trades
    worth less than ``min_trade_usd`` are skipped. If the buys then cost more than the cash
    available, the largest buys are cut (share by share, or by the missing amount) until cash is
    non-negative (no leverage).

    Args:
        units: current shares (or USD values) per ticker.
        unit_prices_usd: as-traded price per ticker (or 1.0 per USD unit).
        cash_usd: current cash, USD (>= 0).
        target_weights: fractions per ticker summing to <= 1 (the rest stays in cash).
        min_trade_usd: smallest order value to send.
        whole_units: True for shares at as-traded prices, False for USD units.
        reason_codes: extra per-ticker codes (signals, screens) attached to that ticker's order.

    Returns:
        ``{"orders": [...], "skipped_orders": [...], "portfolio_value_usd", "cash_after_usd",
        "current_weights", "post_trade_weights", "post_trade_shares" (``None`` for USD units),
        "turnover_fraction", "traded_value_usd"}``. An order is ``{"ticker", "side"
        ("buy"|"sell"), "shares" (int > 0, or ``None`` for a USD order), "price_usd" (as traded, or
        ``None``), "value_usd", "weight_current", "weight_target", "reasons"}``.
    """
    reason_codes = reason_codes or {}
    tickers = sorted(set(units) | set(target_weights))
    current = {t: float(units.get(t, 0.0)) for t in tickers}
    price = {t: float(unit_prices_usd[t]) for t in tickers}
    current_w = holdings_weights({t: current[t] * price[t] for t in tickers}, cash_usd)
    value = sum(current[t] * price[t] for t in tickers) + cash_usd

    trades: dict[str, float] = {}
    skipped = []
    for t in tickers:
        qty = _round_units(target_weights.get(t, 0.0) * value / price[t] - current[t], whole_units)
        if qty == 0:
            continue
        if abs(qty) * price[t] < min_trade_usd:
            skipped.append({"ticker": t, "shares": int(qty) if whole_units else None,
                            "value_usd": round(qty * price[t], 2), "reason": "BELOW_MIN_TRADE"})
            continue
        trades[t] = qty

    cash_after = cash_usd - sum(q * price[t] for t, q in trades.items())
    while cash_after < -1e-9:
        buys = [t for t, q in trades.items() if q > 0]
        if not buys:
            break
        largest = max(buys, key=lambda t: trades[t] * price[t])
        missing = -cash_after / price[largest]
        cut = min(trades[largest], math.ceil(missing) if whole_units else math.ceil(missing * 100) / 100)
        trades[largest] -= cut
        cash_after += cut * price[largest]
        if trades[largest] <= 0:
            del trades[largest]

    post = {t: current[t] + trades.get(t, 0.0) for t in tickers}
    post_w = holdings_weights({t: post[t] * price[t] for t in tickers}, cash_after)
    orders = []
    for t, q in sorted(trades.items()):
        side = "buy" if q > 0 else "sell"
        if side == "buy":
            code = "NEW_POSITION" if current[t] == 0 else "UNDERWEIGHT_VS_TARGET"
        else:
            code = "EXIT_POSITION" if post[t] <= 1e-9 else "OVERWEIGHT_VS_TARGET"
        orders.append({
            "ticker": t,
            "side": side,
            "shares": int(abs(q)) if whole_units else None,
            "price_usd": round(price[t], 4) if whole_units else None,
            "value_usd": round(abs(q) * price[t], 2),
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
        "post_trade_shares": post if whole_units else None,
        "turnover_fraction": round(one_way_turnover(current_w, post_w), 6),
        "traded_value_usd": round(sum(o["value_usd"] for o in orders), 2),
    }
