"""OFAC SDN parsers (legacy XML and CSV) on small files written in OFAC's documented formats,
and screening against them through the policy's configured paths."""

from __future__ import annotations

import textwrap

import pytest

from reference_agents.compliance_monitoring.policy import load_policy
from reference_agents.compliance_monitoring.tools.entries import BirthDate
from reference_agents.compliance_monitoring.tools.ofac import ofac_publish_date, parse_ofac_sdn_csv, parse_ofac_sdn_xml
from reference_agents.compliance_monitoring.tools.watchlist import get_index, screen_name

# Fictitious parties; the layout follows OFAC's sdn.xml (namespace of the current export).
SDN_XML = textwrap.dedent("""\
    <?xml version="1.0" standalone="yes"?>
    <sdnList xmlns="https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports/XML">
      <publshInformation><Publish_Date>01/15/2024</Publish_Date><Record_Count>2</Record_Count></publshInformation>
      <sdnEntry>
        <uid>90001</uid><firstName>Ivo</firstName><lastName>PETRENKOVIC</lastName><sdnType>Individual</sdnType>
        <programList><program>SDGT</program><program>IRGC</program></programList>
        <akaList>
          <aka><uid>91001</uid><type>a.k.a.</type><category>strong</category><firstName>Iwo</firstName><lastName>PETRENKOWITSCH</lastName></aka>
        </akaList>
        <nationalityList><nationality><uid>92001</uid><country>Serbia</country><mainEntry>true</mainEntry></nationality></nationalityList>
        <dateOfBirthList><dateOfBirthItem><uid>93001</uid><dateOfBirth>14 Mar 1971</dateOfBirth><mainEntry>true</mainEntry></dateOfBirthItem></dateOfBirthList>
      </sdnEntry>
      <sdnEntry>
        <uid>90002</uid><lastName>BLUE HARBOUR SHIPPING LLC</lastName><sdnType>Entity</sdnType>
        <programList><program>NPWMD</program></programList>
        <akaList><aka><uid>91002</uid><type>f.k.a.</type><category>weak</category><lastName>BLUE HARBOR MARINE</lastName></aka></akaList>
        <addressList><address><uid>94001</uid><city>Port Louis</city><country>Mauritius</country></address></addressList>
      </sdnEntry>
    </sdnList>
""")

SDN_CSV = (
    '90011,"ORTEGA VILLALBA, Ramon","individual","SDNTK",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,'
    '"DOB 02 Feb 1966; DOB circa 1967; DOB 1960 to 1962; POB Cali, Colombia; nationality Colombia; Cedula No. 123 (Colombia)."\r\n'
    '90012,"NORTHERN STAR TRADING CO.",-0- ,"IRAN] [SDGT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n'
    '\x1a\r\n'
)
ALT_CSV = '90011,95001,"aka","ORTEGA, Moncho",-0- \r\n90012,95002,"fka","ESTRELLA DEL NORTE TRADING",-0- \r\n'


@pytest.fixture()
def ofac_files(tmp_path):
    xml, sdn, alt = tmp_path / "sdn.xml", tmp_path / "sdn.csv", tmp_path / "alt.csv"
    xml.write_text(SDN_XML, encoding="utf-8")
    sdn.write_text(SDN_CSV, encoding="utf-8")
    alt.write_text(ALT_CSV, encoding="utf-8")
    return xml, sdn, alt


def test_sdn_xml_parsed(ofac_files):
    person, entity = parse_ofac_sdn_xml(ofac_files[0])
    assert (person.source, person.reference_number, person.party_type) == ("OFAC_SDN", "90001", "individual")
    assert person.primary_name == "Ivo PETRENKOVIC" and person.list_type == "SDGT;IRGC"
    assert person.aliases == (("Iwo PETRENKOWITSCH", "a.k.a. strong"),)
    assert person.nationalities == ("Serbia",) and person.birth_dates == (BirthDate("EXACT", "1971-03-14", 1971, 1971),)
    assert (entity.party_type, entity.aliases) == ("entity", (("BLUE HARBOR MARINE", "f.k.a. weak"),))
    assert entity.countries == ("Mauritius",)
    assert ofac_publish_date(ofac_files[0]) == "2024-01-15"


def test_sdn_csv_parsed_with_aliases(ofac_files):
    person, entity = parse_ofac_sdn_csv(ofac_files[1], ofac_files[2])
    assert (person.reference_number, person.party_type, person.primary_name) == ("90011", "individual", "ORTEGA VILLALBA, Ramon")
    assert person.birth_dates == (BirthDate("EXACT", "1966-02-02", 1966, 1966), BirthDate("APPROXIMATELY", None, 1967, 1967),
                                  BirthDate("BETWEEN", None, 1960, 1962))
    assert person.nationalities == ("Colombia",)
    assert person.aliases == (("ORTEGA, Moncho", "aka"),) and person.list_type == "SDNTK"
    assert (entity.party_type, entity.list_type) == ("entity", "IRAN;SDGT")
    assert entity.aliases == (("ESTRELLA DEL NORTE TRADING", "fka"),)


def test_malformed_files_rejected(tmp_path):
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("not,an,sdn,row\n", encoding="utf-8")
    with pytest.raises(ValueError, match="ent_num"):
        parse_ofac_sdn_csv(bad_csv)
    wrong_root = tmp_path / "x.xml"
    wrong_root.write_text("<CONSOLIDATED_LIST/>", encoding="utf-8")
    with pytest.raises(ValueError, match="sdnList"):
        parse_ofac_sdn_xml(wrong_root)


def test_xml_entity_expansion_refused(tmp_path):
    bomb = tmp_path / "bomb.xml"
    bomb.write_text('<!DOCTYPE x [<!ENTITY a "aaaa">]><sdnList>&a;</sdnList>', encoding="utf-8")
    with pytest.raises(Exception, match="(?i)entit"):
        parse_ofac_sdn_xml(bomb)


def test_screening_uses_configured_ofac_lists(ofac_files):
    xml, sdn, alt = ofac_files
    policy = load_policy({"screening": {"ofac_sdn_xml_path": str(xml), "ofac_sdn_csv_path": str(sdn),
                                        "ofac_alt_csv_path": str(alt)}})["screening"]
    index = get_index(policy)
    assert {"UN", "OFAC_SDN"} == {e.source for e in index.entries} and len(index.entries) == 1018 + 4
    # each file's version is recorded; the CSV format has no date
    assert [(v.source, v.file, v.date_generated) for v in index.versions] == [
        ("UN", "un_sc_consolidated_list_2020-11-24.xml", "2020-11-24T20:23:07.617-05:00"),
        ("OFAC_SDN", "sdn.xml", "2024-01-15"), ("OFAC_SDN", "sdn.csv", None), ("OFAC_SDN", "alt.csv", None)]
    # three common Spanish name words with a typo need the date of birth to reach the analyst
    assert screen_name("Ramon Ortega Vilalba", index, policy) == []
    hit = screen_name("Ramon Ortega Vilalba", index, policy, date_of_birth="1966-02-02")[0]
    assert (hit["source"], hit["reference_number"], hit["dob_evidence"]) == ("OFAC_SDN", "90011", "exact")
    hit = screen_name("Petrenkowitsch Iwo", index, policy)[0]
    assert (hit["reference_number"], hit["matched_name_kind"]) == ("90001", "a.k.a. strong")
    hit = screen_name("Estrella del Norte Trading", index, policy)[0]
    assert hit["reference_number"] == "90012" and hit["alias_quality_weight"] == 1.0
    weak = screen_name("Blue Harbor Marine", index, {**policy, "review_threshold": 0})[0]
    assert (weak["reference_number"], weak["alias_quality_weight"]) == ("90002", 0.9)  # OFAC weak alias


def test_missing_configured_list_file_named(tmp_path):
    policy = load_policy({"screening": {"ofac_sdn_xml_path": str(tmp_path / "absent.xml")}})["screening"]
    with pytest.raises(FileNotFoundError, match="ofac_sdn_xml_path"):
        get_index(policy)
