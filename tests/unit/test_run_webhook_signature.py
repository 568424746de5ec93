"""The run webhooks' signature scheme: what Shipway signs is what a receiver verifies, and nothing else."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from shipway.run_webhook_signature import SignatureError, sign, verify

SECRET = "whsec-unit"
BODY = b'{"run_id":"r1","status":"success","values":{"decision":"approve"}}'
T = 1_760_000_000


def test_a_signature_is_the_hmac_of_the_timestamp_dot_body():
    header = sign(SECRET, BODY, T)
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={T},v1={expected}"


def test_verify_accepts_a_fresh_signature_and_returns_its_timestamp():
    assert verify(SECRET, BODY, sign(SECRET, BODY, T), now=T + 299) == T
    assert verify(SECRET, BODY, sign(SECRET, BODY, T), now=T - 10) == T  # a receiver's clock a little behind


def test_verify_accepts_any_matching_value_while_a_secret_is_rotated():
    old = sign("old-secret", BODY, T).split(",")[1]
    assert verify(SECRET, BODY, f"{sign(SECRET, BODY, T)},{old}", now=T) == T
    assert verify("old-secret", BODY, f"{sign(SECRET, BODY, T)},{old}", now=T) == T


@pytest.mark.parametrize("tampered", [BODY.replace(b"approve", b"decline"), BODY + b" ", b""])
def test_a_tampered_body_is_refused(tampered):
    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRET, tampered, sign(SECRET, BODY, T), now=T)


def test_another_secret_is_refused():
    with pytest.raises(SignatureError, match="does not match"):
        verify("not-the-secret", BODY, sign(SECRET, BODY, T), now=T)


def test_a_changed_timestamp_is_refused():
    digest = sign(SECRET, BODY, T).split(",")[1]
    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRET, BODY, f"t={T + 1000},{digest}", now=T + 1000)  # a replay passed off as fresh


@pytest.mark.parametrize("now", [T + 301, T - 301])
def test_a_signature_outside_the_tolerance_is_refused(now):
    with pytest.raises(SignatureError, match="tolerance 300 s"):
        verify(SECRET, BODY, sign(SECRET, BODY, T), now=now)
    assert verify(SECRET, BODY, sign(SECRET, BODY, T), tolerance_s=400, now=now) == T


@pytest.mark.parametrize("header", [None, "", "garbage", f"t={T}", "v1=abcd", "t=soon,v1=abcd", f"t={T};v1=abcd",
                                    f"t={T},v0={'0' * 64}"])
def test_a_missing_or_malformed_header_is_refused(header):
    with pytest.raises(SignatureError):
        verify(SECRET, BODY, header, now=T)


def test_an_empty_secret_neither_signs_nor_verifies():
    with pytest.raises(ValueError, match="secret"):
        sign("", BODY, T)
    with pytest.raises(ValueError, match="secret"):
        verify("", BODY, sign(SECRET, BODY, T), now=T)
