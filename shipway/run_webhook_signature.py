"""Signatures of Shipway's run-completion webhooks, for Shipway (signing) and receivers (verifying).

A delivery carries ``X-Shipway-Signature: t=<unix seconds>,v1=<hex>``, where ``<hex>`` is the
HMAC-SHA256, under the shared secret (``SHIPWAY_RUN_WEBHOOK_SECRET``), of ``"<t>.<raw body>"``.
Signing the timestamp with the body lets a receiver refuse a captured delivery replayed later
(:func:`verify`'s ``tolerance_s``); the same scheme as Stripe's ``Stripe-Signature``, so receivers
know it. A header may carry several ``v1=`` values (one per secret while a secret is rotated); one
match is enough. ``X-Shipway-Delivery`` is the delivery's id, the same on every retry, so a
receiver that stores the ids it processed can drop a retry of a delivery it already handled.

A receiver::

    from shipway.run_webhook_signature import SIGNATURE_HEADER, verify
    verify(secret, await request.body(), request.headers.get(SIGNATURE_HEADER))  # raises when invalid
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Shipway-Signature"
DELIVERY_HEADER = "X-Shipway-Delivery"
SCHEME = "v1"


class SignatureError(ValueError):
    """A delivery's signature is missing, malformed, does not match its body, or is too old (or too
    far in the future) for the tolerance."""


def _digest(secret: str, body: bytes, t: int) -> str:
    return hmac.new(secret.encode(), str(t).encode() + b"." + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, t: int) -> str:
    """The ``X-Shipway-Signature`` value of ``body`` sent at ``t`` (unix seconds):
    ``"t=<t>,v1=<64 hex chars>"``.

    Raises:
        ValueError: ``secret`` is empty (an empty key would make every receiver's check pass
            for anyone who knows the scheme).
    """
    if not secret:
        raise ValueError("a run webhook secret is needed to sign")
    return f"t={int(t)},{SCHEME}={_digest(secret, body, int(t))}"


def verify(secret: str, body: bytes, header: str | None, tolerance_s: float = 300, now: float | None = None) -> int:
    """Check that ``header`` signs exactly ``body`` under ``secret`` and that its timestamp is within
    ``tolerance_s`` seconds of ``now`` (default: the current unix time); returns the timestamp.
    Digests are compared in constant time.

    Raises:
        SignatureError: missing or malformed header (no ``t=`` integer, no ``v1=`` value), a digest
            that does not match, or a timestamp more than ``tolerance_s`` away from ``now``.
        ValueError: ``secret`` is empty.
    """
    if not secret:
        raise ValueError("a run webhook secret is needed to verify")
    if not header:
        raise SignatureError(f"no {SIGNATURE_HEADER} header")
    t, given = None, []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureError(f"malformed {SIGNATURE_HEADER} element {part.strip()!r}")
        if key == "t":
            if not value.isdigit():
                raise SignatureError(f"timestamp {value!r} is not unix seconds")
            t = int(value)
        elif key == SCHEME:
            given.append(value.strip().lower())
    if t is None or not given:
        raise SignatureError(f"{SIGNATURE_HEADER} needs t=<unix seconds> and {SCHEME}=<hex>")
    expected = _digest(secret, body, t)
    matched = False
    for candidate in given:  # every value is compared, so timing does not say which one matched
        matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise SignatureError("signature does not match the body")
    skew = abs((time.time() if now is None else now) - t)
    if skew > tolerance_s:
        raise SignatureError(f"timestamp {t} is {skew:.0f} s away from now (tolerance {tolerance_s:g} s)")
    return t
