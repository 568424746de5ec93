"""SYNTHETIC, labelled card-transaction streams for tests, the demo and the model review
(seeded, deterministic).

No freely licensed, labelled fraud data set is available offline, so this module simulates one,
in the spirit of the transaction simulator of Le Borgne et al., "Reproducible Machine Learning for
Credit Card Fraud Detection - Practical Handbook" (2022). Only the reference tables are real:
GeoNames cities and countries/currencies, ISO 18245 merchant categories, and the exchange rates
of ``fx.py`` (amounts are drawn in US dollars and converted to the card's billing currency).

The fraud typologies are those of the ECB's card-fraud oversight reports (e.g. "Seventh report on
card fraud", October 2021): card-present fraud with counterfeit or lost/stolen cards, at points of
sale and ATMs, and card-not-present fraud with card details obtained through data breaches or
phishing, with card testing and account takeover as its best-known modes.

**Every numeric distribution here is an ASSUMPTION of this simulator**, not fitted to data. Each is
chosen from what the pattern is (how many probes a tester runs, how long a takeover waits) and
independently of the agent's policy thresholds, so that a measured detection rate means
something: frauds fall on both sides of every rule's threshold, and legitimate behaviour
(micro-payments, flights, big purchases, new phones with password resets, e-commerce geolocated
far away) crosses them too. The parameters are the constants below, each with its reasoning;
``generate_transactions`` also returns each fraud episode's drawn parameters.

Scale: the labelled fraud share of a stream (about 4-6 % of transactions) is far above real
portfolios (the ECB reports fraud at about 0.036 % of card-payment value in 2019), so that a
small stream has enough frauds to measure; precision measured on it is therefore optimistic.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np

from reference_agents.fraud_detection.fx import from_usd
from reference_agents.fraud_detection.reference_data import City, cities, country_currency
from reference_agents.fraud_detection.tools.geo import distances_km

START = datetime(2024, 3, 1, tzinfo=timezone.utc)
PATTERNS = ("card_testing", "account_takeover", "lost_stolen_card", "counterfeit_card")
# The legitimate behaviours (the label ``behaviour`` of a genuine transaction).
BEHAVIOURS = ("everyday", "micro_payment", "large_purchase", "travel")
LABEL_KEYS = ("is_fraud", "pattern", "behaviour")
PHYSICAL_CHANNELS = ("card_present", "atm")

# ISO 18245 merchant categories.
EVERYDAY_MCCS = ("5411", "5812", "5814", "5541", "5912", "5311", "4111", "4121", "5651", "5942", "7832", "4814")
MICRO_MCCS_PRESENT = ("4111", "7523", "5814", "5994")  # commuter transport, parking, fast food, newsagents
MICRO_MCCS_ONLINE = ("5734", "5968", "4814")  # software/apps, subscriptions, telecom top-ups
LARGE_MCCS = ("5732", "5712", "5944", "4722", "5311")  # electronics, furniture, jewellery, travel agents, dept. stores
TRAVEL_MCCS = ("7011", "5812", "4121")  # hotels, restaurants, taxis
AIRPORT_MCCS = ("5812", "5994", "4511")  # restaurants, newsagents, airlines
TESTING_MCCS = ("5999", "5968", "5734", "8398")  # where testers probe: web shops, subscriptions, software, donations
CASH_OUT_MCCS = ("5732", "5045", "5944", "4829")  # electronics, computers, jewellery, wire transfers: easy to resell/move
STORE_MCCS = ("5411", "5912", "5541", "5311", "5732", "5944", "5814")
JITTER_DEG = 0.06  # ~6 km of latitude: spread of a customer's merchants around the city centre

# ---- Legitimate behaviour (assumptions) ----
SPEND_MEDIAN_USD = (12.0, 80.0)  # a customer's median everyday payment, log-uniform between these
SPEND_SIGMA = (0.5, 0.9)  # lognormal sigma of one customer's everyday payments
DAILY_RATE = (1.5, 4.0)  # everyday payments per day (Poisson mean), uniform between these
ECOMMERCE_SHARE = (0.15, 0.35)  # share of everyday payments made online, uniform between these
MAIL_PHONE_SHARE, ATM_SHARE = 0.02, 0.05  # shares of everyday payments by mail/phone order and at ATMs
ATM_MEDIAN_USD, ATM_SIGMA = 80.0, 0.6
FAR_GEOLOCATION_SHARE = 0.05  # e-commerce geolocated to another city (VPN, mobile-carrier gateway)
MICRO_PAYER_SHARE, MICRO_DAY_PROB = 0.3, 0.35  # customers with micro-payment days, and how often they have one
MICRO_MEDIAN_USD, MICRO_SIGMA = 2.0, 0.7  # transit fares, parking, coffee, app purchases
MICRO_EXTRA_MEAN, MICRO_GAP_MIN = 2.0, 6.0  # a session is 2 + Poisson(2) charges, exponential gaps (mean, min)
LARGE_DAY_PROB, LARGE_MEDIAN_USD, LARGE_SIGMA = 1 / 30, 600.0, 0.8  # a big-ticket purchase now and then
TRIP_SHARE, TRIP_NIGHTS = 0.35, (2, 6)  # customers who fly somewhere >= 300 km away; nights there
CRUISE_KMH = (750.0, 900.0)  # a jet's average ground speed gate to gate, uniform (taxi and climb: +30 min)
BEFORE_BOARDING_MIN = (20.0, 120.0)  # a purchase at the departure airport this long before take-off
AFTER_LANDING_MEDIAN_MIN = 60.0  # first card use after landing: lognormal (sigma 0.5), at least 10 min
NEW_PHONE_SHARE, NEW_PHONE_RESET_PROB = 0.2, 0.5  # customers who change phone; who then reset a password on it
KNOWN_DEVICE_RESET_SHARE = 0.2  # customers who reset a password on a known device

# ---- Fraud patterns (assumptions; typologies as in the module docstring) ----
# card_testing: a stolen card number is probed with small authorisations, mostly by a script (fast),
# sometimes slowly to stay under velocity limits; most working cards are then cashed out online.
PROBES_EXTRA_MEAN = 3.0  # probes per burst: 1 + Poisson(3), so some bursts are a single probe
PROBE_MEDIAN_USD, PROBE_SIGMA = 1.0, 1.2  # probe amounts: cents to tens of dollars
PROBE_GAP_FAST_MIN, PROBE_GAP_SLOW_MIN, SLOW_TESTER_PROB = 3.0, 45.0, 0.3  # exponential gaps between probes
CASH_OUT_PROB, CASH_OUT_DELAY_MIN = 0.7, 240.0  # share of tested cards cashed out; exponential delay (mean)
CASH_OUT_EXTRA_MEAN, CASH_OUT_MEDIAN_USD, CASH_OUT_SIGMA = 0.7, 250.0, 0.9
# account_takeover: the fraudster takes over the online account (phishing, credential stuffing),
# usually changing a credential from a new device first, then spends from that device.
CREDENTIAL_CHANGE_PROB = 0.8  # otherwise only a login from the new device is recorded
CREDENTIAL_EVENTS, CREDENTIAL_EVENT_P = ("password_reset", "email_change", "phone_change"), (0.6, 0.25, 0.15)
ATO_DELAY_MEDIAN_H, ATO_DELAY_SIGMA = 6.0, 1.3  # change to first spend, lognormal: minutes to days
ATO_EXTRA_MEAN, ATO_GAP_MIN, ATO_MEDIAN_USD, ATO_SIGMA = 1.5, 90.0, 300.0, 0.9
ATO_MCCS = ("5732", "5311", "4722", "5944", "4829", "5045")
# lost_stolen_card: the physical card is taken near home and used in shops (contactless) and, when the
# PIN was seen, at ATMs; the cardholder has no card meanwhile.
THEFT_TO_USE_MIN, STOLEN_EXTRA_MEAN, STOLEN_GAP_MIN = 60.0, 2.0, 45.0  # exponential delay and gaps (means)
STOLEN_ATM_PROB, STOLEN_ATM_MEDIAN_USD, STOLEN_MEDIAN_USD, STOLEN_SIGMA = 0.2, 200.0, 80.0, 1.0
CARDHOLDER_WITHOUT_CARD_H = 72.0  # hours without card-present spending after the theft
# counterfeit_card: a skimmed card is cloned and used in another city (any distance) while the
# genuine card stays in use at home; counterfeit cards are often used at ATMs.
COUNTERFEIT_EXTRA_MEAN, COUNTERFEIT_GAP_MIN, COUNTERFEIT_ATM_PROB = 2.0, 120.0, 0.5
COUNTERFEIT_ATM_MEDIAN_USD, COUNTERFEIT_POS_MEDIAN_USD, COUNTERFEIT_POS_SIGMA = 200.0, 150.0, 1.0


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat()


def _lognormal(rng: np.random.Generator, median: float, sigma: float) -> float:
    return float(rng.lognormal(np.log(median), sigma))


class _Customer:
    """One synthetic cardholder's behaviour profile."""

    def __init__(self, index: int, rng: np.random.Generator, table: tuple[City, ...]):
        self.id = f"C{index:04d}"
        self.home = table[int(rng.integers(len(table)))]
        self.currency = country_currency()[self.home.country_code]
        self.median_usd = float(np.exp(rng.uniform(*np.log(SPEND_MEDIAN_USD))))
        self.sigma = float(rng.uniform(*SPEND_SIGMA))
        self.mccs = list(rng.choice(EVERYDAY_MCCS, size=5, replace=False))
        self.mcc_weights = rng.dirichlet(np.full(5, 2.0))
        self.devices = [f"D-{self.id}-{k}" for k in range(int(rng.integers(1, 3)))]
        self.ecommerce_share = float(rng.uniform(*ECOMMERCE_SHARE))
        self.daily_rate = float(rng.uniform(*DAILY_RATE))
        self.micro_payer = bool(rng.random() < MICRO_PAYER_SHARE)


class _Stream:
    def __init__(self, seed: int, table: tuple[City, ...]):
        self.rng = np.random.default_rng(seed)
        self.table = table
        self.transactions: list[dict] = []
        self.events: list[dict] = []
        self.episodes: list[dict] = []
        self.whereabouts: dict[str, list[tuple[str, City]]] = {}  # customer -> (time, city) of card-present use

    def txn(self, c: _Customer, when: datetime, amount_usd: float, mcc: str, city: City, channel: str,
            device: str | None, merchant: str, label: str, fraud: bool = False) -> None:
        """Append one transaction; ``label`` is the fraud pattern or the legitimate behaviour."""
        if channel in PHYSICAL_CHANNELS and not fraud:
            self.whereabouts.setdefault(c.id, []).append((_iso(when), city))
        lat = float(np.clip(city.latitude + self.rng.normal(0, JITTER_DEG / 2), -90, 90))
        lon = float(((city.longitude + self.rng.normal(0, JITTER_DEG / 2)) + 180) % 360 - 180)
        self.transactions.append({
            "customer_id": c.id, "timestamp": _iso(when),
            "amount": round(max(from_usd(amount_usd, c.currency), 0.01), 2),
            "currency": c.currency, "merchant_id": merchant, "mcc": mcc, "merchant_country": city.country_code,
            "channel": channel, "latitude": round(lat, 5), "longitude": round(lon, 5),
            "device_id": device if channel == "card_not_present" else None,
            "is_fraud": fraud, "pattern": label if fraud else None, "behaviour": label,
        })

    def other_city(self, home: City) -> City:
        others = [c for c in self.table if c.geonameid != home.geonameid]
        return others[int(self.rng.integers(len(others)))]

    def everyday(self, c: _Customer, when: datetime, city: City, devices: list[str], mccs=None,
                 label: str = "everyday") -> None:
        rng = self.rng
        mcc = str(rng.choice(c.mccs, p=c.mcc_weights)) if mccs is None else str(rng.choice(mccs))
        amount = _lognormal(rng, c.median_usd, c.sigma)
        roll = rng.random()
        if roll < c.ecommerce_share:
            channel = "card_not_present"
            # An online payment is located where the device's IP geolocates, now and then far away.
            city = self.other_city(c.home) if rng.random() < FAR_GEOLOCATION_SHARE else city
        elif roll < c.ecommerce_share + MAIL_PHONE_SHARE:
            channel = "mail_phone_order"
        elif roll < c.ecommerce_share + MAIL_PHONE_SHARE + ATM_SHARE:
            channel, mcc, amount = "atm", "6011", _lognormal(rng, ATM_MEDIAN_USD, ATM_SIGMA)
        else:
            channel = "card_present"
        merchant = f"M-{city.geonameid}-{mcc}-{int(rng.integers(3))}"
        self.txn(c, when, amount, mcc, city, channel, str(rng.choice(devices)), merchant, label)

    def micro_session(self, c: _Customer, when: datetime, devices: list[str]) -> None:
        rng = self.rng
        online = rng.random() < 0.3
        for k in range(2 + int(rng.poisson(MICRO_EXTRA_MEAN))):
            mcc = str(rng.choice(MICRO_MCCS_ONLINE if online else MICRO_MCCS_PRESENT))
            self.txn(c, when, _lognormal(rng, MICRO_MEDIAN_USD, MICRO_SIGMA), mcc, c.home,
                     "card_not_present" if online else "card_present", str(rng.choice(devices)),
                     f"M-{c.home.geonameid}-{mcc}-{k % 3}", "micro_payment")
            when += timedelta(minutes=float(rng.exponential(MICRO_GAP_MIN)))

    def large_purchase(self, c: _Customer, when: datetime, devices: list[str]) -> None:
        rng = self.rng
        mcc = str(rng.choice(LARGE_MCCS))
        channel = "card_not_present" if rng.random() < 0.5 else "card_present"
        self.txn(c, when, _lognormal(rng, LARGE_MEDIAN_USD, LARGE_SIGMA), mcc, c.home, channel,
                 str(rng.choice(devices)), f"M-{c.home.geonameid}-{mcc}-L", "large_purchase")

    def flight(self, c: _Customer, when: datetime, origin: City, destination: City) -> datetime:
        """A card-present purchase at the departure airport, then the first one after landing; returns
        the time of the latter (the traveller spends nothing at the destination before it)."""
        rng = self.rng
        mcc = str(rng.choice(AIRPORT_MCCS))
        self.txn(c, when, _lognormal(rng, c.median_usd, c.sigma), mcc, origin, "card_present", None,
                 f"M-{origin.geonameid}-{mcc}-A", "travel")
        km = float(distances_km(np.array([[origin.latitude, origin.longitude]]),
                                np.array([[destination.latitude, destination.longitude]]))[0, 0])
        block_min = 30.0 + 60.0 * km / float(rng.uniform(*CRUISE_KMH))
        after_min = max(_lognormal(rng, AFTER_LANDING_MEDIAN_MIN, 0.5), 10.0)
        arrival = when + timedelta(minutes=float(rng.uniform(*BEFORE_BOARDING_MIN)) + block_min + after_min)
        self.txn(c, arrival, _lognormal(rng, c.median_usd, c.sigma), "4121", destination, "card_present", None,
                 f"M-{destination.geonameid}-4121-A", "travel")
        return arrival


def _local_daytime(rng: np.random.Generator, day: int, city: City) -> datetime:
    """A time on ``day`` (days after START) between 07:00 and 23:00 in the city's local time: 7 + 16 *
    Beta(2.5, 2.5) hours, mean 15:00, sd ~3.3 h (continuous, so no two draws share a timestamp)."""
    hour = 7.0 + 16.0 * float(rng.beta(2.5, 2.5))
    midnight = datetime(START.year, START.month, START.day, tzinfo=ZoneInfo(city.timezone))
    local = midnight + timedelta(days=day, hours=hour)
    return local.astimezone(timezone.utc)


def _normal_days(s: _Stream, c: _Customer, days: int) -> None:
    rng = s.rng
    trip = None
    if rng.random() < TRIP_SHARE:
        far = [city for city in s.table
               if distances_km(np.array([[c.home.latitude, c.home.longitude]]),
                               np.array([[city.latitude, city.longitude]]))[0, 0] >= 300]
        depart = int(rng.integers(days // 3, max(days - 3, days // 3 + 1)))
        trip = (depart, depart + int(rng.integers(*TRIP_NIGHTS)), far[int(rng.integers(len(far)))])
    new_phone_day = int(rng.integers(days // 2, days)) if rng.random() < NEW_PHONE_SHARE else None
    if new_phone_day is not None and rng.random() < NEW_PHONE_RESET_PROB:
        s.events.append({"customer_id": c.id, "type": "password_reset", "device_id": f"D-{c.id}-new",
                         "timestamp": _iso(_local_daytime(rng, new_phone_day, c.home) - timedelta(hours=2))})
    if rng.random() < KNOWN_DEVICE_RESET_SHARE:
        s.events.append({"customer_id": c.id, "type": "password_reset", "device_id": c.devices[0],
                         "timestamp": _iso(_local_daytime(rng, int(rng.integers(days)), c.home))})
    landed = START  # nothing is spent at a place before arriving there (local days differ by time zone)
    for day in range(days):
        devices = c.devices if new_phone_day is None or day < new_phone_day else [f"D-{c.id}-new"]
        if trip is not None and day in (trip[0], trip[1]):
            there, back = (c.home, trip[2]) if day == trip[0] else (trip[2], c.home)
            landed = s.flight(c, max(_local_daytime(rng, day, there), landed + timedelta(hours=1)), there, back)
            continue
        away = trip is not None and trip[0] < day < trip[1]
        city = trip[2] if away else c.home
        times = sorted(_local_daytime(rng, day, city) for _ in range(int(rng.poisson(c.daily_rate))))
        for when in (t for t in times if t > landed):
            s.everyday(c, when, city, devices, TRAVEL_MCCS if away else None, "travel" if away else "everyday")
        if not away and c.micro_payer and rng.random() < MICRO_DAY_PROB:
            if (when := _local_daytime(rng, day, city)) > landed:
                s.micro_session(c, when, devices)
        if not away and rng.random() < LARGE_DAY_PROB:
            if (when := _local_daytime(rng, day, city)) > landed:
                s.large_purchase(c, when, devices)


def _card_testing(s: _Stream, c: _Customer, t: datetime) -> dict:
    rng = s.rng
    where, device = s.table[int(rng.integers(len(s.table)))], f"D-X{c.id}"
    gap = PROBE_GAP_SLOW_MIN if rng.random() < SLOW_TESTER_PROB else PROBE_GAP_FAST_MIN
    probes = []
    for k in range(1 + int(rng.poisson(PROBES_EXTRA_MEAN))):
        amount, mcc = _lognormal(rng, PROBE_MEDIAN_USD, PROBE_SIGMA), str(rng.choice(TESTING_MCCS))
        s.txn(c, t, amount, mcc, where, "card_not_present", device, f"M-WEB-{mcc}-{k}", "card_testing", True)
        probes.append(round(amount, 2))
        t += timedelta(minutes=float(rng.exponential(gap)))
    cash_outs = 0
    if rng.random() < CASH_OUT_PROB:
        t += timedelta(minutes=float(rng.exponential(CASH_OUT_DELAY_MIN)))
        cash_outs = 1 + int(rng.poisson(CASH_OUT_EXTRA_MEAN))
        for k in range(cash_outs):
            mcc = str(rng.choice(CASH_OUT_MCCS))
            s.txn(c, t, _lognormal(rng, CASH_OUT_MEDIAN_USD, CASH_OUT_SIGMA), mcc, where, "card_not_present",
                  device, f"M-WEB-{mcc}-X{k}", "card_testing", True)
            t += timedelta(minutes=float(rng.exponential(30.0)))
    return {"probe_amounts_usd": probes, "mean_probe_gap_minutes": gap, "cash_outs": cash_outs}


def _account_takeover(s: _Stream, c: _Customer, t: datetime) -> dict:
    rng = s.rng
    where, device = s.table[int(rng.integers(len(s.table)))], f"D-X{c.id}"
    event = None
    if rng.random() < CREDENTIAL_CHANGE_PROB:
        event = str(rng.choice(CREDENTIAL_EVENTS, p=CREDENTIAL_EVENT_P))
    s.events.append({"customer_id": c.id, "type": event or "login", "timestamp": _iso(t), "device_id": device})
    delay_h = _lognormal(rng, ATO_DELAY_MEDIAN_H, ATO_DELAY_SIGMA)
    t += timedelta(hours=delay_h)
    spends = 1 + int(rng.poisson(ATO_EXTRA_MEAN))
    for k in range(spends):
        mcc = str(rng.choice(ATO_MCCS))
        s.txn(c, t, _lognormal(rng, ATO_MEDIAN_USD, ATO_SIGMA), mcc, where, "card_not_present", device,
              f"M-WEB-{mcc}-{k}", "account_takeover", True)
        t += timedelta(minutes=float(rng.exponential(ATO_GAP_MIN)))
    return {"credential_event": event, "delay_to_first_spend_hours": round(delay_h, 2), "spends": spends}


def _lost_stolen_card(s: _Stream, c: _Customer, t: datetime) -> dict:
    rng = s.rng
    theft = t
    # Taken where the cardholder last used it (at home, or on a trip).
    seen = [city for when, city in s.whereabouts.get(c.id, []) if when <= _iso(theft)]
    where = seen[-1] if seen else c.home
    uses = 1 + int(rng.poisson(STOLEN_EXTRA_MEAN))
    t += timedelta(minutes=5 + float(rng.exponential(THEFT_TO_USE_MIN)))
    for k in range(uses):
        if rng.random() < STOLEN_ATM_PROB:
            channel, mcc, amount = "atm", "6011", _lognormal(rng, STOLEN_ATM_MEDIAN_USD, 0.5)
        else:
            channel, mcc, amount = "card_present", str(rng.choice(STORE_MCCS)), _lognormal(rng, STOLEN_MEDIAN_USD, STOLEN_SIGMA)
        s.txn(c, t, amount, mcc, where, channel, None, f"M-{where.geonameid}-{mcc}-S{k}", "lost_stolen_card", True)
        t += timedelta(minutes=float(rng.exponential(STOLEN_GAP_MIN)))
    # The cardholder has no card meanwhile: their own card-present spending stops.
    until = theft + timedelta(hours=CARDHOLDER_WITHOUT_CARD_H)
    s.transactions = [
        x for x in s.transactions
        if not (x["customer_id"] == c.id and not x["is_fraud"] and x["channel"] in PHYSICAL_CHANNELS
                and _iso(theft) <= x["timestamp"] <= _iso(until))
    ]
    return {"city": where.name, "uses": uses}


def _counterfeit_card(s: _Stream, c: _Customer, day: int) -> dict:
    rng = s.rng
    where = s.other_city(c.home)
    t = _local_daytime(rng, day, where)
    uses = 1 + int(rng.poisson(COUNTERFEIT_EXTRA_MEAN))
    for k in range(uses):
        if rng.random() < COUNTERFEIT_ATM_PROB:
            channel, mcc, amount = "atm", "6011", _lognormal(rng, COUNTERFEIT_ATM_MEDIAN_USD, 0.5)
        else:
            channel, mcc = "card_present", str(rng.choice(STORE_MCCS))
            amount = _lognormal(rng, COUNTERFEIT_POS_MEDIAN_USD, COUNTERFEIT_POS_SIGMA)
        s.txn(c, t, amount, mcc, where, channel, None, f"M-{where.geonameid}-{mcc}-C{k}", "counterfeit_card", True)
        t += timedelta(minutes=float(rng.exponential(COUNTERFEIT_GAP_MIN)))
    km = float(distances_km(np.array([[c.home.latitude, c.home.longitude]]),
                            np.array([[where.latitude, where.longitude]]))[0, 0])
    return {"city": where.name, "distance_from_home_km": round(km, 1), "uses": uses}


def _inject(s: _Stream, c: _Customer, pattern: str, day: int) -> None:
    t = _local_daytime(s.rng, day, c.home)
    if pattern == "card_testing":
        params = _card_testing(s, c, t)
    elif pattern == "account_takeover":
        params = _account_takeover(s, c, t)
    elif pattern == "lost_stolen_card":
        params = _lost_stolen_card(s, c, t)
    else:
        params = _counterfeit_card(s, c, day)
    s.episodes.append({"customer_id": c.id, "pattern": pattern, "day": day, **params})


def generate_transactions(
    n_customers: int = 10, days: int = 18, seed: int = 7, fraud_start_day: int | None = None
) -> dict:
    """A SYNTHETIC labelled stream.

    Args:
        n_customers: cardholders; customer ``i`` falls victim to fraud pattern ``PATTERNS[i % 5]``
            (``i % 5 == 4``: none; a fixed mix so that every pattern is measured, not a realistic
            one), starting on a day in ``[fraud_start_day, days - 1)``; ``fraud_start_day``
            defaults to ``days // 2``, leaving the first half to build history. A fraud episode may
            run past the last day.
        days: length of the stream from 2024-03-01 UTC.
        seed: NumPy ``default_rng`` seed; the same arguments give the same stream.

    Returns:
        ``{"transactions": [txn dicts, time-ordered, with the labels "is_fraud", "pattern" (or None)
        and "behaviour" (the pattern, or one of BEHAVIOURS)], "account_events": [{"customer_id",
        "type", "timestamp", "device_id"}], "episodes": [{"customer_id", "pattern", "day", and the
        pattern's drawn parameters (amounts in US dollars)}]}``.
    """
    table = cities()
    fraud_start_day = days // 2 if fraud_start_day is None else fraud_start_day
    s = _Stream(seed, table)
    for i in range(n_customers):
        c = _Customer(i, s.rng, table)
        _normal_days(s, c, days)
        if i % 5 < len(PATTERNS):
            _inject(s, c, PATTERNS[i % 5], int(s.rng.integers(fraud_start_day, days - 1)))
    ordered = sorted(s.transactions, key=lambda t: (t["timestamp"], t["customer_id"]))
    for n, t in enumerate(ordered):
        t["transaction_id"] = f"TX{n:06d}"
    return {"transactions": ordered, "account_events": sorted(s.events, key=lambda e: e["timestamp"]),
            "episodes": s.episodes}


def generate_cases(n_customers: int = 10, days: int = 18, seed: int = 7, min_history: int = 20,
                   max_history: int = 200) -> list[dict]:
    """Run inputs built from :func:`generate_transactions`, with their labels kept apart.

    A case is one transaction with at least ``min_history`` earlier transactions of its customer;
    its ``history`` holds the latest ``max_history`` of them and its ``account_events`` the
    customer's events up to the transaction.

    Returns:
        ``[{"input": {"transaction", "history", "account_events"}, "is_fraud": bool, "pattern": str | None,
        "behaviour": str}]`` in time order.
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
                **{k: t[k] for k in LABEL_KEYS},
            })
        prior.append(txn)
    return cases
