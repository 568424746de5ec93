"""Watchlist screening on the real UN Security Council Consolidated List (2020-11-24)."""

from __future__ import annotations

import pytest

from reference_agents.compliance_monitoring.policy import load_policy, resolve_path
from reference_agents.compliance_monitoring.tools.entries import BirthDate
from reference_agents.compliance_monitoring.tools.normalize import name_variants, normalize_name, phonetic_key
from reference_agents.compliance_monitoring.tools.un_list import parse_un_consolidated_xml
from reference_agents.compliance_monitoring.tools.watchlist import get_index, screen_name

POLICY = load_policy()["screening"]
CUTOFF = POLICY["review_threshold"]


@pytest.fixture(scope="module")
def index():
    return get_index(POLICY)


@pytest.fixture(scope="module")
def entries():
    return parse_un_consolidated_xml(resolve_path(POLICY["un_list_path"]))


def refs(hits):
    return [h["reference_number"] for h in hits]


def test_un_list_parsed_completely(entries):
    individuals = [e for e in entries if e.party_type == "individual"]
    entities = [e for e in entries if e.party_type == "entity"]
    assert (len(individuals), len(entities)) == (713, 305)
    assert all(e.reference_number and e.primary_name for e in entries)
    by_ref = {e.reference_number: e for e in entries}
    ri = by_ref["KPi.033"]
    assert ri.primary_name == "RI WON HO" and ri.list_type == "DPRK"
    assert ri.birth_dates == (BirthDate("EXACT", "1964-07-17", 1964, 1964),)
    assert ri.nationalities == ("Democratic People's Republic of Korea",)
    assert ("Jang Chang Ha", "Good") in by_ref["KPi.037"].aliases
    assert by_ref["KPe.047"].primary_name == "FOREIGN TRADE BANK (FTB)" and by_ref["KPe.047"].birth_dates == ()
    assert by_ref["KPe.023"].countries == ("Democratic People's Republic of Korea",)


def test_normalisation_folds_diacritics_punctuation_and_variants():
    table = {"mohammed": "muhammad"}
    assert normalize_name("JÉRÔME  Kakwavu") == "jerome kakwavu"
    assert normalize_name("‘ABD AL-RAHMAN", drop_tokens=frozenset({"al"})) == "abd rahman"
    assert normalize_name("Mohammed Sa’id", table) == "muhammad said"
    assert normalize_name("Абу Мухаммад") == "abu mukhammad"
    assert normalize_name("!!") == ""
    prefixes = tuple(POLICY["compound_prefixes"])
    assert normalize_name("Abdulrahman", {"abdul": "abd"}, prefixes=prefixes) == "abd rahman"
    assert normalize_name("Abdullah Abubakar", prefixes=prefixes) == "abdullah abu bakar"  # "lah" is too short
    assert normalize_name("Alexander", prefixes=prefixes) == "alexander"  # "al" is not split off
    rules = [tuple(r) for r in POLICY["phonetic_rules"]]
    assert phonetic_key(normalize_name("Джозеф Кони"), rules) == phonetic_key("joseph kony", rules) == "josef koni"


def test_alias_field_split_into_names_but_remarks_are_not():
    assert name_variants("حسن غول (Hassan Ghul; Hassan Gul; Hasan Gul)")[-3:] == ["Hassan Ghul", "Hassan Gul", "Hasan Gul"]
    assert "Абу Мухаммад" in name_variants("Abu Muhammad (original script: Абу Мухаммад)")
    assert "PAD" in name_variants("PROPAGANDA AND AGITATION DEPARTMENT (PAD)")
    assert "combat name" not in name_variants("El Para (combat name)")
    assert "Hong Kong" not in name_variants("Leader (Hong Kong) International Trading Limited")


@pytest.mark.parametrize(
    ("query", "reference"),
    [
        ("Kakwavo Jerome", "CDi.005"),  # alias "Jérôme Kakwavu": swapped, no diacritics, typo
        ("Bagdadi Abu Bakr al", "QDi.299"),  # alias "Abu Bakr al-Baghdadi", swapped with typo
        ("Chang Ha Jang", "KPi.037"),  # alias only (primary is CHANG CHANG HA), swapped; common tokens
        ("Francois Bozize", "CFi.001"),  # middle name left out, no diacritics
        ("Usama bin Ladin Network", "QDe.004"),  # entity alias of AL-QAIDA with a spelling variant
    ],
)
def test_listed_names_found_through_perturbations(index, query, reference):
    hits = screen_name(query, index, POLICY)
    assert hits and hits[0]["reference_number"] == reference
    assert CUTOFF <= hits[0]["score"] < 100  # perturbed: a potential match, not exact


def test_match_reports_alias_and_primary_name(index):
    hit = screen_name("Kakwavo Jerome", index, POLICY)[0]
    assert hit["matched_name"] == "Jérôme Kakwavu" and hit["matched_name_kind"] != "primary"
    assert hit["primary_name"] == "JÉRÔME KAKWAVU BUKANDE" and hit["list_type"] == "DRC"


def test_exact_name_in_any_word_order_is_a_strong_match(index):
    for query in ("Ri Won Ho", "Won Ho Ri"):
        hit = screen_name(query, index, POLICY)[0]
        assert (hit["reference_number"], hit["name_score"], hit["matched_name_kind"]) == ("KPi.033", 100.0, "primary")
        assert hit["strong_match"] is True


def test_entity_matched_and_party_type_filter(index):
    hits = screen_name("Daedong Credt Bank", index, POLICY)
    assert (hits[0]["reference_number"], hits[0]["party_type"]) == ("KPe.023", "entity")
    assert hits[0]["primary_name"] == "DAEDONG CREDIT BANK (DCB)"
    assert screen_name("Daedong Credt Bank", index, POLICY, party_type="individual") == []


@pytest.mark.parametrize(
    "name", ["Margaret Thompson", "Lukas Becker", "Sofia Rossi", "Hiroshi Tanaka", "Emma Dubois", "Acme Widgets Ltd"]
)
def test_unlisted_names_not_matched(index, name):
    assert screen_name(name, index, POLICY) == []


def test_one_common_word_is_not_a_match(index):
    # Aliases like "Ahmad" must not flag everyone called Ahmed.
    assert screen_name("Ahmed Becker", index, POLICY) == []


def test_index_covers_the_list_and_is_cached(index):
    assert len(index.entries) == 1018 and len(index.choices) > 3000
    assert get_index(POLICY) is index
    assert index.weights["muhammad"] < 1 < index.weights["kony"]  # common vs rare tokens


def test_empty_name_rejected(index):
    with pytest.raises(ValueError, match="no letters"):
        screen_name("--", index, POLICY)
