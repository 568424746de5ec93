"""PiiGuard remembers texts without a finding (inputs repeat their categorical values), never a text with one."""

from __future__ import annotations

from activities.guards.pii import PiiGuard
from shipway.guard_policy import PiiAction


def test_a_clean_text_is_remembered_and_a_text_with_a_finding_is_not():
    guard = PiiGuard()
    clean, ssn = "checking account: 0 <= ... < 200 DM", "Her SSN is 536-90-4399."
    assert guard.scan(clean) == [] and guard.scan(clean) == []
    assert clean in guard._clean
    first = guard.apply(ssn, {"US_SSN": PiiAction.REDACT})
    assert [f.entity for f in first.findings] == ["US_SSN"] and "536-90-4399" not in first.text
    again = guard.apply(ssn, {"US_SSN": PiiAction.REDACT})
    assert again.text == first.text and ssn not in guard._clean
