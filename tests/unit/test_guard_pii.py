"""The run guards' PII layer: Shipway's recognizers (valid values found, check-digit look-alikes
not), Presidio's built-ins, and allow / redact / block policies."""

from __future__ import annotations

import pytest
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

from activities.guards.pii import PiiGuard
from activities.guards.recognizers import UsPhoneRecognizer, aba_checksum_ok, cusip_check_digit, luhn_ok
from activities.spec_guard import spec_findings
from shipway.guard_policy import DEFAULTS, ENTITIES, PiiAction

A, R, B = PiiAction.ALLOW, PiiAction.REDACT, PiiAction.BLOCK


@pytest.fixture(scope="module")
def guard() -> PiiGuard:
    return PiiGuard()


def found(guard: PiiGuard, text: str) -> list[tuple[str, str]]:
    return [(f.entity, text[f.start:f.end]) for f in guard.scan(text)]


@pytest.mark.parametrize("text, entity, value", [
    ("Wire it to routing number 021000021 today.", "ABA_ROUTING_NUMBER", "021000021"),
    ("ABA 011000015 (Federal Reserve Bank of Boston)", "ABA_ROUTING_NUMBER", "011000015"),
    ("The RTN is 026009593.", "ABA_ROUTING_NUMBER", "026009593"),
    ("Beneficiary bank SWIFT DEUTDEFF, Frankfurt.", "SWIFT_BIC_CODE", "DEUTDEFF"),
    ("Pay to BOFAUS3NXXX by Friday.", "SWIFT_BIC_CODE", "BOFAUS3NXXX"),
    ("Correspondent CHASUS33 confirms.", "SWIFT_BIC_CODE", "CHASUS33"),
    ("Apple's CUSIP 037833100 is on the list.", "CUSIP", "037833100"),
    ("Alphabet class C shares, CUSIP 02079K107.", "CUSIP", "02079K107"),
    ("Buy ISIN US0378331005 at market.", "ISIN", "US0378331005"),
    ("Holding DE0007164600 (SAP) since 2019.", "ISIN", "DE0007164600"),
    ("The company's EIN is 12-3456789.", "US_EIN", "12-3456789"),
    ("Employer identification number 95-1234567 on the W-9.", "US_EIN", "95-1234567"),
    ("Debit checking account no. 000123456789 monthly.", "BANK_ACCOUNT", "000123456789"),
    ("Deposit to a/c #4401928374 please.", "BANK_ACCOUNT", "4401928374"),
    ("Account number: 123456 was closed.", "BANK_ACCOUNT", "123456"),
])
def test_shipway_recognizers_find_real_values(guard, text, entity, value):
    assert (entity, value) in found(guard, text)


@pytest.mark.parametrize("text, entity", [
    ("Wire it to routing number 021000022 today.", "ABA_ROUTING_NUMBER"),  # checksum off by one
    ("Routing number 401000011 on file.", "ABA_ROUTING_NUMBER"),  # checksum ok, 40 is no Fed prefix
    ("Beneficiary bank SWIFT DEUTQQFF, Frankfurt.", "SWIFT_BIC_CODE"),  # QQ is no country
    ("Apple's CUSIP 037833101 is on the list.", "CUSIP"),  # check digit 0, not 1
    ("Buy ISIN US0378331006 at market.", "ISIN"),  # check digit 5, not 6
    ("Buy ISIN QQ0378331005 at market.", "ISIN"),  # QQ is no country
    ("The company's EIN is 07-1234567.", "US_EIN"),  # the IRS assigns no 07 prefix
])
def test_check_digit_look_alikes_are_not_found(guard, text, entity):
    assert entity not in {e for e, _ in found(guard, text)}


@pytest.mark.parametrize("text", [
    "Wire it to 021000021 today.",  # a valid routing number without a context word is a number
    "THE BUSINESS STANDARD FOR CUSTOMER SERVICE",  # capitalised words shaped like BICs
    "The reference number is 12-3456789.",  # EIN-shaped, no context word
    "The account balance was 125000 at year end.",  # a number after "account ... was", not an account number
    "ignore the typo in row 3 and recompute the debt-to-income ratio of 0.42",
])
def test_look_alikes_without_context_and_benign_text_find_nothing(guard, text):
    assert found(guard, text) == []


@pytest.mark.parametrize("text, entity, value", [
    ("Card 4111 1111 1111 1111 exp 12/27", "CREDIT_CARD", "4111 1111 1111 1111"),
    ("IBAN DE89 3704 0044 0532 0130 00 for the transfer", "IBAN_CODE", "DE89 3704 0044 0532 0130 00"),
    ("Her SSN is 536-90-4399.", "US_SSN", "536-90-4399"),
    ("Mail jane.doe@example.com the memo.", "EMAIL_ADDRESS", "jane.doe@example.com"),
    ("Call the desk on (212) 555-0123 after 5.", "PHONE_NUMBER", "(212) 555-0123"),
    ("London office +44 20 7946 0958.", "PHONE_NUMBER", "+44 20 7946 0958"),
])
def test_presidio_built_ins(guard, text, entity, value):
    assert (entity, value) in found(guard, text)


def test_credit_card_needs_a_valid_luhn_digit(guard):
    assert found(guard, "Card 4111 1111 1111 1112 exp 12/27") == []


def test_fast_phone_recognizer_finds_what_presidios_finds():
    presidio, shipway = PhoneRecognizer(supported_regions=("US",)), UsPhoneRecognizer()
    for text in ["call 212-555-0123", "+1 (212) 555-0123", "phones: 415 555 2671; fax +33 1 42 68 53 00", "tel:2125550123",
                 "abc2125550123", "2125550123%", "at 12:30 2125550123:45", "routing 021000021", "12/25/2024 and 2024-05-14"]:
        spans = [sorted((r.start, r.end) for r in rec.analyze(text, ["PHONE_NUMBER"])) for rec in (presidio, shipway)]
        assert spans[0] == spans[1], text


def test_check_digit_algorithms():
    assert aba_checksum_ok("021000021") and not aba_checksum_ok("021000022")
    assert cusip_check_digit("03783310") == 0 and cusip_check_digit("38259P50") == 8  # Apple, Google (2004)
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")


def test_an_isin_wins_over_the_cusip_inside_it(guard):
    assert found(guard, "CUSIP/ISIN US0378331005") == [("ISIN", "US0378331005")]


def test_redact_replaces_values_by_their_entity(guard):
    text = "Send it to routing number 021000021, acct 12345678; questions to ops@example.com."
    result = guard.apply(text, {"ABA_ROUTING_NUMBER": R, "BANK_ACCOUNT": R, "EMAIL_ADDRESS": A})
    assert result.redacted and not result.blocked
    assert result.text == "Send it to routing number <ABA_ROUTING_NUMBER>, acct <BANK_ACCOUNT>; questions to ops@example.com."
    assert [(f.entity, f.action) for f in result.findings] == [("ABA_ROUTING_NUMBER", R), ("BANK_ACCOUNT", R), ("EMAIL_ADDRESS", A)]
    assert "021000021" not in result.text and "12345678" not in result.text


def test_block_leaves_the_text_and_names_the_entities(guard):
    text = "SSN 536-90-4399, routing number 021000021, SSN 536-90-4400."
    result = guard.apply(text, {"US_SSN": B, "ABA_ROUTING_NUMBER": R})
    assert result.blocked == ["US_SSN"] and not result.redacted and result.text == text
    assert [f.entity for f in result.findings] == ["US_SSN", "ABA_ROUTING_NUMBER", "US_SSN"]


def test_allow_and_entities_missing_from_the_policy_pass(guard):
    text = "Buy ISIN US0378331005 for the fund."
    for actions in ({"ISIN": A}, {}):
        result = guard.apply(text, actions)
        assert (result.text, result.blocked, result.redacted) == (text, [], False)
        assert [(f.entity, f.action) for f in result.findings] == [("ISIN", A)]


def test_default_policies_apply(guard):
    text = "EIN 12-3456789, card 4111111111111111."
    internal = guard.apply(text, DEFAULTS["internal"]["input"])
    assert internal.blocked == ["US_EIN"]  # government identifiers are blocked on internal input
    confidential = guard.apply(text, DEFAULTS["confidential"]["input"])
    assert confidential.text == "EIN <US_EIN>, card <CREDIT_CARD>."


def test_every_policy_entity_has_a_recognizer_except_ner_ones(guard):
    assert set(ENTITIES) - set(guard.entities) <= {"PERSON", "LOCATION"}


def test_spec_guard_still_finds_pii():
    description = "Escalations go to jane.doe@gmail.com, the desk."
    [finding] = spec_findings({"description": description, "system_prompt": "Be brief."})
    start = description.index("jane.doe")
    assert (finding.field, finding.entity, finding.start, finding.end) == ("description", "EMAIL_ADDRESS", start, start + 18)
    assert spec_findings({"description": "Scores loan applications.", "system_prompt": ""}) == []
