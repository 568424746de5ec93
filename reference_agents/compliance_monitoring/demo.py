"""Demo traffic: run inputs from the real UN list plus synthetic transaction histories,
and the documented rule the demo's analyst follows.

Names: every third input is a real listed UN party (an individual's primary name or
alias, or an entity's name) perturbed the way screening must tolerate — word order
reversed, diacritics dropped, a one-letter typo; the rest are ordinary names, common names
among them ("Mohammed Ali"). Identifiers: listed individuals carry their listed date of birth
in two of three cases (a true match) and a date 23 years later otherwise (a namesake); listed
entities carry their listed address country in two of three cases. Transactions are
SYNTHETIC, generated with ``random.Random(SEED + i)``: ordinary activity (salary, rent, card
spending, small cash), or that plus one scenario (structuring, a payment to a listed entity,
rapid movement, high-risk or sanctioned jurisdiction, velocity).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from functools import lru_cache

from anyascii import anyascii

from reference_agents.compliance_monitoring.policy import load_policy, resolve_path
from reference_agents.compliance_monitoring.tools.countries import country_codes
from reference_agents.compliance_monitoring.tools.un_list import parse_un_consolidated_xml

SEED = 20201124
ANALYST = "demo-analyst"
ORDINARY_NAMES = (
    "Margaret Thompson", "Mohammed Ali", "Lukas Becker", "Sofia Rossi", "Hiroshi Tanaka", "Priya Sharma",
    "Abdul Rahman", "Carlos Silva", "Emma Dubois", "Kwame Mensah", "Anna Schmidt", "Ali Hassan", "David Miller",
    "Olga Ivanova", "Chen Wei", "Muhammad Khan", "Fatima Okafor", "Mateo Garcia", "Greta Muller", "Noah Williams",
)
COUNTERPARTIES = ("Northwind Trading LLC", "Harbor Street Properties", "Greenfield Utilities Co", "Apex Logistics GmbH")
SCENARIOS = ("normal", "structuring", "listed_counterparty", "rapid_movement", "normal", "high_risk_jurisdiction",
             "velocity")
START = datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc)


def _dob_text(entry) -> str | None:
    """The first listed date of birth given as a full date or a single year (exact or approximate),
    as ``YYYY-MM-DD`` or ``YYYY``."""
    for d in entry.birth_dates:
        if d.date and len(d.date) == 10:
            return d.date
        if d.year_from == d.year_to:
            return str(d.year_from)
    return None


@lru_cache(maxsize=1)
def _listed_names() -> tuple[tuple[str, str, str | None, str | None], ...]:
    """``(name, party_type, listed DOB (YYYY-MM-DD or YYYY) or None, listed country code or None)`` of
    UN parties with a 2-5 word name (the primary name, else a good-quality alias)."""
    path = resolve_path(load_policy()["screening"]["un_list_path"])
    out = []
    for e in parse_un_consolidated_xml(path):
        names = [e.primary_name] + [a for a, q in e.aliases if q in ("Good", "a.k.a.") and "(" not in a]
        country = min(country_codes(e.countries or e.nationalities), default=None)
        for name in names:
            if 2 <= len(name.split()) <= 5:
                out.append((name, e.party_type, _dob_text(e), country))
                break
    return tuple(out)


@lru_cache(maxsize=1)
def _listed_entities() -> tuple[tuple[str, str], ...]:
    """``(name, address country code)`` of listed entities with one known address country."""
    return tuple((n, c) for n, kind, _dob, c in _listed_names() if kind == "entity" and c)


def _perturb(name: str, rng: random.Random, how: int) -> str:
    words = anyascii(name).replace("'", "").split()
    if how == 0:
        words.reverse()
    elif how == 1:
        words = words[1:] + words[:1]
    text = " ".join(w.capitalize() for w in words)
    letters = [i for i, ch in enumerate(text) if ch.isalpha()]
    i = rng.choice(letters[2:-1] or letters)
    replacement = rng.choice([c for c in "aeiourn" if c != text[i].lower()])
    return text[:i] + replacement + text[i + 1 :]


def _tx(rng, txs, when, amount, direction, kind, country="US", counterparty=None):
    txs.append({
        "transaction_id": f"T{len(txs) + 1:04d}",
        "timestamp": when.isoformat(),
        "amount_usd": round(amount, 2),
        "direction": direction,
        "type": kind,
        "counterparty_country": country,
        **({"counterparty_name": counterparty} if counterparty else {}),
    })


def transactions(scenario: str, rng: random.Random) -> list[dict]:
    """A synthetic 30-day history: salary, rent to a named landlord, card spending, a few small cash
    deposits and withdrawals, plus ``scenario``'s pattern."""
    txs: list[dict] = []
    _tx(rng, txs, START, rng.uniform(3000, 6000), "in", "wire", counterparty=rng.choice(COUNTERPARTIES))
    _tx(rng, txs, START + timedelta(days=2), rng.uniform(900, 2200), "out", "ach", counterparty=COUNTERPARTIES[1])
    for day in sorted(rng.sample(range(1, 30), 10)):
        _tx(rng, txs, START + timedelta(days=day, hours=rng.randint(0, 10)), rng.uniform(8, 240), "out", "card",
            rng.choice(["US", "US", "GB", "DE", "FR"]))
    # small cash away from days 10-13, where the structuring scenario puts its deposits
    for day in sorted(rng.sample([d for d in range(1, 30) if not 10 <= d <= 13], 3)):
        direction = rng.choice(["in", "out"])
        _tx(rng, txs, START + timedelta(days=day, hours=3), rng.uniform(100, 2500), direction,
            "cash_deposit" if direction == "in" else "cash_withdrawal")
    if scenario == "structuring":
        for k in range(4):
            _tx(rng, txs, START + timedelta(days=10 + k, hours=2), rng.uniform(9100, 9950), "in", "cash_deposit")
    elif scenario == "rapid_movement":
        amount = rng.uniform(12000, 22000)
        _tx(rng, txs, START + timedelta(days=15), amount, "in", "wire", "GB")
        _tx(rng, txs, START + timedelta(days=15, hours=20), amount * rng.uniform(0.85, 0.98), "out", "wire", "AE")
    elif scenario == "listed_counterparty":
        name, country = rng.choice(_listed_entities())
        _tx(rng, txs, START + timedelta(days=16), rng.uniform(2000, 9000), "out", "wire", country, name.title())
    elif scenario == "high_risk_jurisdiction":
        _tx(rng, txs, START + timedelta(days=18), rng.uniform(2000, 9000), "out", "wire", rng.choice(["IR", "KP", "MM"]))
    elif scenario == "velocity":
        for k in range(14):
            _tx(rng, txs, START + timedelta(days=21, minutes=40 * k), rng.uniform(50, 400), "out", "card")
    return sorted(txs, key=lambda t: t["timestamp"])


def sample_inputs(n: int) -> list[dict]:
    """``n`` run inputs (deterministic): perturbed listed names and ordinary names, each with
    a synthetic transaction history."""
    listed = _listed_names()
    pick = random.Random(SEED).sample(range(len(listed)), min(len(listed), n // 3 + 1))
    out = []
    for i in range(n):
        rng = random.Random(SEED + i)
        if i % 3 == 0:
            name, party_type, dob, country = listed[pick[i // 3]]
            item = {"name": _perturb(name, rng, (i // 3) % 3), "party_type": party_type}
            if party_type == "individual" and dob:
                item["date_of_birth"] = dob if (i // 3) % 3 != 1 else f"{int(dob[:4]) + 23}{dob[4:]}"
            elif party_type == "entity" and country and (i // 3) % 3 != 1:
                item["nationality"] = country
        else:
            item = {"name": ORDINARY_NAMES[(i - i // 3 - 1) % len(ORDINARY_NAMES)], "party_type": "individual",
                    "date_of_birth": f"{rng.randint(1950, 2002)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"}
        item["customer_id"] = f"C{SEED % 10000:04d}-{i:04d}"
        item["transactions"] = transactions(SCENARIOS[i % len(SCENARIOS)], rng)
        out.append(item)
    return out


def resume_value(request: dict, run_input: dict) -> dict:
    """The demo analyst's answer to a review request (a fixed rule, not a guess).

    Rule: never on a name alone. ``true_match`` (naming the best candidate) only when the best
    candidate's identifiers agree (``identifiers_agree``: a date of birth that agrees and no
    conflicting country; for an entity, its listed country agrees) and its match score, which
    already counts those identifiers, is a strong match (``strong_match``, score >= the
    strong-match threshold); otherwise ``false_positive`` with the reason in the note (a real
    analyst would ask for identifiers first; the demo has none to ask for).

    Args:
        request: the interrupt's :class:`~reference_agents.common.hitl.InterruptRequest` as JSON
            (``context["candidates"]``).
        run_input: the run's input (unused: the request carries the facts).

    Returns:
        A :class:`~reference_agents.compliance_monitoring.review.MatchAnswer` as JSON.
    """
    top = max(request["context"]["candidates"], key=lambda c: c["score"])
    facts = f"match score {top['score']}, date of birth {top['dob_evidence'] or 'unknown'}, country {top['country_evidence'] or 'unknown'}"
    if top["identifiers_agree"] and top["strong_match"]:
        return {"decision": "true_match", "reviewer": ANALYST, "reference_number": top["reference_number"],
                "note": f"identifiers agree: {facts}"}
    if "conflict" in (top["dob_evidence"], top["country_evidence"]) or top["country_evidence"] == "conflicts":
        why = "identifiers conflict"
    elif top["identifiers_agree"]:
        why = "identifiers agree but the match is not strong"
    else:
        why = "no identifier confirms the name"
    return {"decision": "false_positive", "reviewer": ANALYST, "note": f"{why}: {facts}"}
