"""Money limits of the fraud policy are per currency: the shipped exchange-rate table, and the
card-testing limit applied in US dollars whatever the billing currency."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from reference_agents.fraud_detection import AGENT
from reference_agents.fraud_detection.fx import from_usd, rate_currencies, to_usd, usd_per_unit
from reference_agents.fraud_detection.policy import load_policy
from reference_agents.fraud_detection.reference_data import cities, currency_codes
from reference_agents.fraud_detection.tools import enrich, evaluate_rules

POLICY = load_policy()
LAGOS = next(c for c in cities() if c.name == "Lagos")
T0 = datetime(2024, 5, 1, 8, tzinfo=timezone.utc)


def test_rate_table_matches_published_rates_of_its_date():
    # The UAE dirham is pegged at 3.6725 per US dollar (Central Bank of the UAE).
    assert 1 / usd_per_unit("AED") == pytest.approx(3.6725, rel=0.005)
    # ECB euro reference rate of 2024-02-28: 1 EUR = 1.0808 USD.
    assert usd_per_unit("EUR") == pytest.approx(1.0808, rel=0.005)
    assert usd_per_unit("USD") == 1.0
    assert from_usd(to_usd(1234.5, "NGN"), "NGN") == pytest.approx(1234.5)
    # Every currency of the generator's cities has a rate, and most currencies in use do.
    assert {"NGN", "JPY", "KWD", "INR", "GBP", "BRL"} <= rate_currencies()
    assert len(rate_currencies() & currency_codes()) >= 145
    with pytest.raises(KeyError, match="fx_rates_nbp_2024-02-28.csv"):
        usd_per_unit("KPW")


def _customer(currency: str, amount: float, n: int = 30) -> list[dict]:
    """A Lagos cardholder paying ``amount`` every 8 hours, card present."""
    return [
        {"transaction_id": f"H{i}", "customer_id": "C1", "timestamp": (T0 + timedelta(hours=8 * i)).isoformat(),
         "amount": amount, "currency": currency, "merchant_id": f"M{i % 3}", "mcc": "5411",
         "merchant_country": "NG", "channel": "card_present", "latitude": LAGOS.latitude,
         "longitude": LAGOS.longitude, "device_id": None}
        for i in range(n)
    ]


def _burst(history: list[dict], amount: float, count: int = 4) -> tuple[dict, list[dict]]:
    """``count`` online authorisations of ``amount`` two minutes apart: the last one, and its history."""
    last = datetime.fromisoformat(history[-1]["timestamp"])
    probes = [
        dict(history[0], transaction_id=f"P{k}", timestamp=(last + timedelta(hours=3, minutes=2 * k)).isoformat(),
             amount=amount, mcc="5999", merchant_id=f"WEB{k}", channel="card_not_present", device_id="DX")
        for k in range(count)
    ]
    return probes[-1], history + probes[:-1]


def _fires(txn: dict, history: list[dict]) -> bool:
    return "CARD_TESTING_BURST" in [h["code"] for h in evaluate_rules(enrich(txn, history, [], POLICY), txn, POLICY)]


@pytest.mark.parametrize(("currency", "everyday"), [("NGN", 15000.0), ("JPY", 3000.0), ("KWD", 6.0)])
def test_card_testing_limit_is_a_usd_value_in_every_currency(currency, everyday):
    history = _customer(currency, everyday)
    limit = POLICY["rules"]["card_testing"]["small_amount_max_usd"]
    # Four probes of 4 US dollars' worth are a card-testing burst in any billing currency: about
    # 6,300 NGN or 600 JPY, which a limit of "5" read in the card's own units never saw as small.
    assert _fires(*_burst(history, round(from_usd(4.0, currency), 2)))
    # Four authorisations of 5 units are small or not depending on what a unit is worth: 5 NGN is a
    # fraction of a cent (a probe), 5 KWD is about 16 US dollars (a purchase).
    assert _fires(*_burst(history, 5.0)) == (to_usd(5.0, currency) <= limit)
    assert _fires(*_burst(history, round(from_usd(2 * limit, currency), 2))) is False


def test_card_testing_detail_names_the_limit_in_both_currencies():
    txn, history = _burst(_customer("NGN", 15000.0), 6000.0)
    (hit,) = [h for h in evaluate_rules(enrich(txn, history, [], POLICY), txn, POLICY) if h["code"] == "CARD_TESTING_BURST"]
    assert "5.00 USD" in hit["detail"] and "NGN" in hit["detail"]


def test_a_currency_without_a_rate_is_refused_at_input():
    txn, history = _burst(_customer("NGN", 15000.0), 6000.0)
    run_input = copy.deepcopy({"transaction": txn, "history": history})
    AGENT.input_model.model_validate(run_input)
    run_input["transaction"]["currency"] = "KPW"  # in use (GeoNames), but no rate in the table
    for h in run_input["history"]:
        h["currency"] = "KPW"
    with pytest.raises(ValidationError, match="no exchange rate"):
        AGENT.input_model.model_validate(run_input)
