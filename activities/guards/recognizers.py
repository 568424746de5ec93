"""Shipway's recognizers for Presidio: financial identifiers, and phone numbers found faster.

Each is a ``PatternRecognizer`` for one entity of ``shipway.guard_policy``: a regex finds the
candidates and ``validate_result`` checks what can be checked (check digit, country code, issuing
prefix). A failed check returns ``False``, which makes Presidio drop the candidate, so look-alikes
with a wrong check digit are never reported. A passed check returns ``None`` (keep the pattern's
score) unless the identifier is strong enough on its own (ISIN): a 9-digit number passes the ABA or
CUSIP check one time in ten, so those need a context word nearby (Presidio's context enhancer adds
0.35 when one of the recognizer's ``context`` words is among the five words before the match) to
reach their minimum score.

Regexes of identifiers that are written in capitals (SWIFT/BIC, CUSIP, ISIN) are matched
case-sensitively: Presidio matches case-insensitively by default, which would turn ordinary
lowercase words into candidates.
"""

from __future__ import annotations

import regex as re
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

# Presidio's default flags without IGNORECASE.
CASE_SENSITIVE = re.DOTALL | re.MULTILINE

# ISO 3166-1 alpha-2 country codes (all 249 officially assigned).
ISO_COUNTRIES = frozenset("""
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP
KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT
MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG
UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
""".split())
# Prefixes used by issuers without a single country: XS (Euroclear/Clearstream international
# securities), EU (European Union issues). Kosovo's XK is user-assigned, but SWIFT uses it.
ISIN_PREFIXES = ISO_COUNTRIES | {"XS", "EU"}
BIC_COUNTRIES = ISO_COUNTRIES | {"XK"}

# First two digits of a routing number: 00 U.S. Government, 01-12 Federal Reserve districts,
# 21-32 thrifts, 61-72 electronic transactions, 80 traveler's cheques.
ABA_PREFIXES = frozenset({*range(0, 13), *range(21, 33), *range(61, 73), 80})
# EIN prefixes the IRS has never assigned (IRS, "How EINs are assigned and valid EIN prefixes");
# every other two-digit prefix belongs to a campus, the internet or the SBA.
EIN_UNASSIGNED_PREFIXES = frozenset({"00", "07", "08", "09", "17", "18", "19", "28", "29", "49", "69", "70", "78", "79",
                                     "89", "96", "97"})


def aba_checksum_ok(digits: str) -> bool:
    """Whether 9 digits pass the ABA routing-number checksum: weights 3, 7, 1 repeated, sum % 10 == 0."""
    return sum(int(d) * w for d, w in zip(digits, (3, 7, 1) * 3)) % 10 == 0


def luhn_ok(digits: str) -> bool:
    """Whether a digit string (check digit last) passes the Luhn mod-10 check."""
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def cusip_check_digit(base: str) -> int:
    """The check digit of a CUSIP's first 8 characters (digits, capitals, ``*@#``): "double-add-double",
    i.e. values (A=10 ... Z=35, * 36, @ 37, # 38), every second one doubled, digits of each summed,
    then (10 - sum % 10) % 10."""
    total = 0
    for i, ch in enumerate(base):
        v = int(ch) if ch.isdigit() else ord(ch) - ord("A") + 10 if ch.isalpha() else 36 + "*@#".index(ch)
        if i % 2:
            v *= 2
        total += v // 10 + v % 10
    return (10 - total % 10) % 10


class AbaRoutingRecognizer(PatternRecognizer):
    """ABA_ROUTING_NUMBER: 9 digits with a valid Federal Reserve prefix and the 3-7-1 checksum.

    About 4% of random 9-digit numbers pass both checks, so the base score (0.3) is below the
    guard's minimum: a context word (routing, ABA, RTN, transit) must be near.
    """

    def __init__(self) -> None:
        super().__init__(supported_entity="ABA_ROUTING_NUMBER", name="AbaRoutingRecognizer",
                         patterns=[Pattern("ABA routing number (weak)", r"\b\d{9}\b", 0.3)],
                         # With a spaCy pipeline installed context words are compared with lemmas, and
                         # en_core_web_sm lemmatizes "routing" to "route" or "rout".
                         context=["routing", "route", "rout", "routing#", "aba", "rtn", "transit"])

    def validate_result(self, pattern_text: str) -> bool | None:
        """``False`` for a wrong prefix or checksum; ``None`` (keep the context-dependent score) otherwise."""
        if int(pattern_text[:2]) not in ABA_PREFIXES or not aba_checksum_ok(pattern_text):
            return False
        return None


class SwiftBicRecognizer(PatternRecognizer):
    """SWIFT_BIC_CODE: 4 letters (bank), 2 letters (ISO 3166 country), 2 letters or digits
    (location), optionally 3 more (branch); capitals only.

    A BIC has no check digit; only its country can be checked. Many capitalised English words also
    have that shape and a valid "country" (BUSINESS: NE, STANDARD: AR), so a BIC of letters only
    scores 0.1 and needs a context word (swift, bic) to pass. A BIC with a digit in its location or
    branch, or with the primary-office branch ``XXX``, is unlike any word and scores 0.5 alone.
    """

    def __init__(self) -> None:
        super().__init__(
            supported_entity="SWIFT_BIC_CODE", name="SwiftBicRecognizer",
            patterns=[Pattern("BIC with a digit", r"\b[A-Z]{6}(?=[A-Z]*\d)[A-Z0-9]{2}(?:[A-Z0-9]{3})?\b", 0.5),
                      Pattern("BIC of a primary office", r"\b[A-Z]{6}[A-Z0-9]{2}XXX\b", 0.5),
                      Pattern("BIC of letters only (weak)", r"\b[A-Z]{8}(?:[A-Z]{3})?\b", 0.1)],
            context=["swift", "bic", "swift/bic", "bic/swift"], global_regex_flags=CASE_SENSITIVE)

    def validate_result(self, pattern_text: str) -> bool | None:
        """``False`` unless characters 5-6 are a country code; ``None`` otherwise (no check digit exists)."""
        return None if pattern_text[4:6] in BIC_COUNTRIES else False


class CusipRecognizer(PatternRecognizer):
    """CUSIP: 9 characters, a 6-character issuer (of a US or Canadian issuer: starting with 3
    digits), a 2-character issue and the check digit. A CINS (a CUSIP whose first character is a
    letter, for issuers elsewhere) is not looked for.

    One 9-digit number in ten passes the check, so the base score (0.3) needs a context word
    (cusip, security, bond, shares, ...) to reach the guard's minimum.
    """

    def __init__(self) -> None:
        super().__init__(supported_entity="CUSIP", name="CusipRecognizer",
                         patterns=[Pattern("CUSIP (weak)", r"\b\d{3}[0-9A-Z]{5}\d\b", 0.3)],
                         context=["cusip", "security", "securities", "bond", "bonds", "share", "shares", "stock"],
                         global_regex_flags=CASE_SENSITIVE)

    def validate_result(self, pattern_text: str) -> bool | None:
        """``False`` for a wrong check digit; ``None`` (keep the context-dependent score) otherwise."""
        return None if cusip_check_digit(pattern_text[:8]) == int(pattern_text[8]) else False


class IsinRecognizer(PatternRecognizer):
    """ISIN: a 2-letter country (or XS, EU), 9 letters or digits and a check digit: Luhn over the
    code with each letter replaced by its two-digit value (A=10 ... Z=35). A valid ISIN scores 1.0."""

    def __init__(self) -> None:
        super().__init__(supported_entity="ISIN", name="IsinRecognizer",
                         patterns=[Pattern("ISIN", r"\b[A-Z]{2}[0-9A-Z]{9}\d\b", 0.5)],
                         context=["isin", "security", "securities"], global_regex_flags=CASE_SENSITIVE)

    def validate_result(self, pattern_text: str) -> bool:
        """Whether the country prefix is known and the check digit is right."""
        digits = "".join(str(int(ch, 36)) for ch in pattern_text)
        return pattern_text[:2] in ISIN_PREFIXES and luhn_ok(digits)


class UsEinRecognizer(PatternRecognizer):
    """US_EIN: ``NN-NNNNNNN`` with a prefix the IRS assigns. An EIN has no check digit, and many
    reference numbers share its shape, so the base score (0.3) needs a context word (EIN, employer
    identification, tax ID, TIN) to reach the guard's minimum. Undashed EINs are not looked for."""

    def __init__(self) -> None:
        super().__init__(supported_entity="US_EIN", name="UsEinRecognizer",
                         patterns=[Pattern("EIN (weak)", r"\b\d{2}-\d{7}\b", 0.3)],
                         context=["ein", "fein", "employer", "tin", "tax"])

    def validate_result(self, pattern_text: str) -> bool | None:
        """``False`` for a prefix the IRS does not assign; ``None`` otherwise (no check digit exists)."""
        return False if pattern_text[:2] in EIN_UNASSIGNED_PREFIXES else None


class BankAccountRecognizer(PatternRecognizer):
    """BANK_ACCOUNT: 6-17 digits right after an account word: "account", "acct", "a/c", "checking",
    "chequing" or "savings", optionally followed by "number"/"no."/"#", "is" and ":" (e.g.
    "checking account no. 12345678", "a/c #000123456789", "Account number: 123456").

    The account word is part of the pattern (a variable-length look-behind, which Presidio's
    ``regex`` engine supports) rather than a ``context`` word: a bare run of digits is far too
    common for a score boost to tell an account from an amount or a reference, and "account" a few
    words before a number ("account balance was 125000") does not make it an account number.
    """

    def __init__(self) -> None:
        lead = (r"(?<=\b(?:account|acct|a/c|checking|chequing|savings)"
                r"(?:\s+(?:number|num|no\.?|nr\.?))?(?:\s+is)?\s*[:#]?\s*)")
        super().__init__(supported_entity="BANK_ACCOUNT", name="BankAccountRecognizer",
                         patterns=[Pattern("account number after an account word", lead + r"\d{6,17}\b", 0.6)])


class UsPhoneRecognizer(PhoneRecognizer):
    """PHONE_NUMBER: Presidio's ``PhoneRecognizer`` (python-phonenumbers) for numbers in US national
    format and any number in international format, run only where a phone number can be.

    python-phonenumbers parses and validates every number of a text (amounts, dates, ratios, ...),
    2-3 ms per region for 2,000 characters of finance text. A number it accepts has at least 10
    digits in US national format, or a "+" and at least 7 digits, so only such runs of digits and
    separators go to it, each with the characters around it that it looks at (the one before, to
    reject a number glued to a word; three after, to reject a time stamp's ":MM"). Findings are
    those of ``PhoneRecognizer(supported_regions=("US",))`` except that an extension ("ext. 45")
    is not part of one. Other regions
    are left out on purpose: they cost as much again each, and some (DE, IL) read 9-digit
    identifiers such as routing numbers as phone numbers.
    """

    RUNS = re.compile(r"\+\d(?:[\s().-]{0,3}\d){6,}|\(?\d(?:[\s().-]{0,3}\d){9,}")

    def __init__(self) -> None:
        super().__init__(supported_regions=("US",), name="UsPhoneRecognizer")

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        """Phone numbers in ``text`` (score 0.4 before context), offsets into ``text``."""
        results = []
        for run in self.RUNS.finditer(text):
            offset = max(run.start() - 1, 0)
            for result in super().analyze(text[offset:run.end() + 3], entities, nlp_artifacts):
                result.start += offset
                result.end += offset
                results.append(result)
        return EntityRecognizer.remove_duplicates(results)


def shipway_recognizers() -> list[EntityRecognizer]:
    """One instance of each of Shipway's recognizers (for ``RecognizerRegistry.add_recognizer``)."""
    return [AbaRoutingRecognizer(), SwiftBicRecognizer(), CusipRecognizer(), IsinRecognizer(), UsEinRecognizer(),
            BankAccountRecognizer(), UsPhoneRecognizer()]
