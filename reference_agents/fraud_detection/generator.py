"""SYNTHETIC, labelled card-transaction streams for tests and the demo (seeded, deterministic).

No freely licensed, labelled fraud data set is available offline, so this module simulates
one, in the spirit of the transaction simulator of Le Borgne et al., "Reproducible Machine
Learning for Credit Card Fraud Detection - Practical Handbook" (2022):

* **Normal behaviour** per customer: a home city from the real GeoNames table
  (``data/cities_geonames.csv``) with transactions scattered within ~10 km of it, in the
  city's local daytime (IANA time zone); a few favourite merchant categories (ISO 18245 MCCs,
  ``data/iso18245_official_list.csv``) with a few merchants each; lognormal amounts
  (median 15-90, sigma 0.5-0.9, in the home country's currency); card-present, card-not-present
  (on the customer's own devices) and ATM channels. Some customers also take a legitimate
  trip (flight-speed gaps), change phones, or reset their password: the normal traffic that
  a good detector must not flag.
* **Fraud patterns** (label ``pattern``): ``card_testing`` (a burst of 5-9 small online
  authorisations from a new device in another city, then a cash-out), ``account_takeover``
  (password reset from a new device, then large online purchases), ``amount_spike`` (one
  purchase 10-25x the customer's median) and ``impossible_travel`` (a cloned card used in a
  far city minutes after a genuine purchase at home).

Everything here is synthetic except the city, country/currency and MCC reference tables.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np

from reference_agents.fraud_detection.reference_data import City, cities, country_currency
from reference_agents.fraud_detection.tools.geo import distances_km

START = datetime(2024, 3, 1, tzinfo=timezone.utc)
PATTERNS = ("card_testing", "account_takeover", "amount_spike", "impossible_travel")
# Everyday ISO 18245 categories: groceries, restaurants, fast food, fuel, pharmacies,
# department stores, commuter transport, taxis, clothing, book shops, cinemas, telecom.
EVERYDAY_MCCS = ("5411", "5812", "5814", "5541", "5912", "5311", "4111", "4121", "5651", "5942", "7832", "4814")
TESTING_MCCS = ("5999", "5968", "5734")  # where card testers probe: online retail, subscriptions, software
CASH_OUT_MCCS = ("5732", "5944", "4829")  # electronics, jewellery, wire transfers: easy to resell/move
TRAVEL_MCCS = ("7011", "5812", "4121")  # hotels, restaurants, taxis
LABEL_KEYS = ("is_fraud", "pattern")
JITTER_DEG = 0.06  # ~6 km of latitude: spread of a customer's merchants around the home city


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat()


class _Customer:
    """One synthetic cardholder's behaviour profile."""

    def __init__(self, index: int, rng: np.random.Generator, table: tuple[City, ...]):
        self.id = f"C{index:04d}"
        self.home = table[int(rng.integers(len(table)))]
        self.currency = country_currency()[self.home.country_code]
        self.mu = float(np.log(rng.uniform(15, 90)))
        self.sigma = float(rng.uniform(0.5, 0.9))
        self.mccs = list(rng.choice(EVERYDAY_MCCS, size=5, replace=False))
        self.mcc_weights = rng.dirichlet(np.full(5, 2.0))
        self.devices = [f"D-{self.id}-{k}" for k in range(int(rng.integers(1, 3)))]
        self.cnp_share = float(rng.uniform(0.15, 0.35))
        self.daily_rate = float(rng.uniform(2.0, 4.0))

    @property
    def median_amount(self) -> float:
        return float(np.exp(self.mu))


class _Stream:
    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.transactions: list[dict] = []
        self.events: list[dict] = []

    def txn(self, c: _Customer, when: datetime, amount: float, mcc: str, city: City, channel: str,
            device: str | None, merchant: str, pattern: str | None) -> None:
        lat = float(np.clip(city.latitude + self.rng.normal(0, JITTER_DEG / 2), -90, 90))
        lon = float(((city.longitude + self.rng.normal(0, JITTER_DEG / 2)) + 180) % 360 - 180)
        self.transactions.append({
            "customer_id": c.id, "timestamp": _iso(when), "amount": round(max(amount, 0.01), 2),
            "currency": c.currency, "merchant_id": merchant, "mcc": mcc, "merchant_country": city.country_code,
            "channel": channel, "latitude": round(lat, 5), "longitude": round(lon, 5),
            "device_id": device if channel == "card_not_present" else None,
            "_pattern": pattern,
        })

    def everyday(self, c: _Customer, when: datetime, city: City, devices: list[str], mccs=None) -> None:
        rng = self.rng
        if mccs is None:
            mcc = str(rng.choice(c.mccs, p=c.mcc_weights))
        else:
            mcc = str(rng.choice(mccs))
        roll = rng.random()
        channel = "card_not_present" if roll < c.cnp_share else ("atm" if roll > 0.95 else "card_present")
        if channel == "atm":
            mcc = "6011"
        amount = float(rng.lognormal(c.mu, c.sigma))
        merchant = f"M-{city.geonameid}-{mcc}-{int(rng.integers(3))}"
        self.txn(c, when, amount, mcc, city, channel, str(rng.choice(devices)), merchant, None)


def _local_daytime(rng: np.random.Generator, day: int, city: City) -> datetime:
    """A time on ``day`` (days after START) between 07:00 and 23:00 in the city's local time."""
    hour = float(np.clip(rng.normal(14, 4), 7, 22.99))
    midnight = datetime(START.year, START.month, START.day, tzinfo=ZoneInfo(city.timezone))
    local = midnight + timedelta(days=day, hours=hour)
    return local.astimezone(timezone.utc)


def _far_city(rng: np.random.Generator, home: City, table: tuple[City, ...], min_km: float, nearest: int = 0) -> City:
    """A random city at least ``min_km`` from ``home``; with ``nearest`` > 0, one of the
    ``nearest`` closest such cities (a plausible trip rather than any far place)."""
    here = np.array([[home.latitude, home.longitude]])
    km = distances_km(here, np.array([[c.latitude, c.longitude] for c in table]))[0]
    far = [table[i] for i in np.argsort(km) if km[i] >= min_km]
    if nearest:
        far = far[:nearest]
    return far[int(rng.integers(len(far)))]


def _inject(s: _Stream, c: _Customer, pattern: str, day: int, table: tuple[City, ...]) -> None:
    rng = s.rng
    t0 = _local_daytime(rng, day, c.home)
    if pattern == "card_testing":
        where = _far_city(rng, c.home, table, 1000)
        device = f"D-X{c.id}"
        t = t0
        for k in range(int(rng.integers(5, 10))):
            t += timedelta(minutes=float(rng.uniform(1, 6)))
            mcc = str(rng.choice(TESTING_MCCS))
            amount = float(rng.uniform(0.5, 4.0))
            s.txn(c, t, amount, mcc, where, "card_not_present", device, f"M-WEB-{mcc}-{k}", pattern)
        t += timedelta(minutes=float(rng.uniform(10, 30)))
        s.txn(c, t, c.median_amount * float(rng.uniform(6, 15)), "5732", where, "card_not_present", device,
              "M-WEB-5732-X", pattern)
    elif pattern == "account_takeover":
        where = _far_city(rng, c.home, table, 1000)
        device = f"D-X{c.id}"
        s.events.append({"customer_id": c.id, "type": "password_reset", "timestamp": _iso(t0), "device_id": device})
        t = t0
        for k in range(int(rng.integers(1, 4))):
            t += timedelta(minutes=float(rng.uniform(30, 180)))
            mcc = str(rng.choice(CASH_OUT_MCCS))
            s.txn(c, t, c.median_amount * float(rng.uniform(5, 15)), mcc, where, "card_not_present", device,
                  f"M-WEB-{mcc}-{k}", pattern)
    elif pattern == "amount_spike":
        mcc = str(rng.choice(("5732", "5944")))
        s.txn(c, t0, c.median_amount * float(rng.uniform(10, 25)), mcc, c.home, "card_present", None,
              f"M-{c.home.geonameid}-{mcc}-9", pattern)
    elif pattern == "impossible_travel":
        s.everyday(c, t0, c.home, c.devices)
        where = _far_city(rng, c.home, table, 2000)
        t = t0
        for k in range(int(rng.integers(1, 3))):
            t += timedelta(minutes=float(rng.uniform(20, 90)))
            mcc = str(rng.choice(("5411", "5732", "5311")))
            s.txn(c, t, float(rng.lognormal(c.mu + 0.7, c.sigma)), mcc, where, "card_present", None,
                  f"M-{where.geonameid}-{mcc}-{k}", pattern)


def _normal_days(s: _Stream, c: _Customer, days: int, table: tuple[City, ...]) -> None:
    rng = s.rng
    trip = None
    if rng.random() < 0.35:  # a legitimate trip: fly out, stay 2-3 days, fly home
        depart = int(rng.integers(days // 2, days - 3))
        trip = (depart, depart + int(rng.integers(2, 4)), _far_city(rng, c.home, table, 500, nearest=4))
    new_phone_day = int(rng.integers(days // 2, days)) if rng.random() < 0.2 else None
    if rng.random() < 0.25:  # a legitimate password reset from a known device
        day = int(rng.integers(days))
        s.events.append({"customer_id": c.id, "type": "password_reset",
                         "timestamp": _iso(_local_daytime(rng, day, c.home)), "device_id": c.devices[0]})
    for day in range(days):
        devices = c.devices if new_phone_day is None or day < new_phone_day else [f"D-{c.id}-new"]
        away = trip is not None and trip[0] <= day <= trip[1]
        city = trip[2] if away else c.home
        count = int(rng.poisson(c.daily_rate))
        if trip is not None and day in (trip[0], trip[1] + 1):
            count = 0  # travel days: no spending while flying, so the speed stays plausible
        for when in sorted(_local_daytime(rng, day, city) for _ in range(count)):
            s.everyday(c, when, city, devices, TRAVEL_MCCS if away else None)


def generate_transactions(
    n_customers: int = 10, days: int = 18, seed: int = 7, fraud_start_day: int | None = None
) -> dict:
    """A SYNTHETIC labelled stream.

    Args:
        n_customers: cardholders; customer ``i`` gets fraud pattern ``PATTERNS[i % 5]``
            (``i % 5 == 4``: none), injected on a day in ``[fraud_start_day, days - 1)``;
            ``fraud_start_day`` defaults to ``days // 2``, leaving the first half to build history.
        days: length of the stream from 2024-03-01 UTC.
        seed: NumPy ``default_rng`` seed; the same arguments give the same stream.

    Returns:
        ``{"transactions": [txn dicts, time-ordered, with "is_fraud" and "pattern"],
        "account_events": [{"customer_id", "type", "timestamp", "device_id"}]}``.
    """
    table = cities()
    fraud_start_day = days // 2 if fraud_start_day is None else fraud_start_day
    s = _Stream(seed)
    for i in range(n_customers):
        c = _Customer(i, s.rng, table)
        _normal_days(s, c, days, table)
        if i % 5 < len(PATTERNS):
            _inject(s, c, PATTERNS[i % 5], int(s.rng.integers(fraud_start_day, days - 1)), table)
    ordered = sorted(s.transactions, key=lambda t: (t["timestamp"], t["customer_id"]))
    for n, t in enumerate(ordered):
        t["transaction_id"] = f"TX{n:06d}"
        t["pattern"] = t.pop("_pattern")
        t["is_fraud"] = t["pattern"] is not None
    return {"transactions": ordered, "account_events": sorted(s.events, key=lambda e: e["timestamp"])}



def generate_cases(n_customers: int = 10, days: int = 18, seed: int = 7, min_history: int = 20,
                   max_history: int = 200) -> list[dict]:
    """Run inputs built from :func:`generate_transactions`, with their labels kept apart.

    A case is one transaction with at least ``min_history`` earlier transactions of its customer;
    its ``history`` holds the latest ``max_history`` of them and its ``account_events`` the
    customer's events up to the transaction.

    Returns:
        ``[{"input": {"transaction", "history", "account_events"}, "is_fraud": bool, "pattern": str | None}]``
        in time order.
    """
    stream = generate_transactions(n_customers, days, seed)
    past: dict[str, list[dict]] = {}
    cases = []
    for t in stream["transactions"]:
        txn = {k: v for k, v in t.items() if k not in LABEL_KEYS}
        prior = past.setdefault(t["customer_id"], [])
        if len(prior) >= min_history:
            events = [
                {k: e[k] for k in ("type", "timestamp", "device_id")}
                for e in stream["account_events"]
                if e["customer_id"] == t["customer_id"] and e["timestamp"] <= t["timestamp"]
            ]
            cases.append({
                "input": {"transaction": txn, "history": list(prior[-max_history:]), "account_events": events},
                "is_fraud": t["is_fraud"],
                "pattern": t["pattern"],
            })
        prior.append(txn)
    return cases
