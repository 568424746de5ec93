"""OFAC SDN parsers (legacy XML and CSV) on small files written in OFAC's documented formats,
and screening against them through the policy's configured paths."""

from __future__ import annotations

import textwrap

import pytest

from reference_agents.compliance_monitoring.policy import load_policy
from reference_agents.compliance_monitoring.tools.ofac import parse_ofac_sdn_csv, parse_ofac_sdn_xml
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
      </sdnEntry>
    </sdnList>
""")

SDN_CSV = (
    '90011,"ORTEGA VILLALBA, Ramon","individual","SDNTK",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,'
    '"DOB 02 Feb 1966; POB Cali, Colombia; nationality Colombia; Cedula No. 123 (Colombia)."\r\n'
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
    assert person.nationalities == ("Serbia",) and person.dates_of_birth == ("1971-03-14",)
    assert (entity.party_type, entity.aliases) == ("entity", (("BLUE HARBOR MARINE", "f.k.a. weak"),))


def test_sdn_csv_parsed_with_aliases(ofac_files):
    person, entity = parse_ofac_sdn_csv(ofac_files[1], ofac_files[2])
    assert (person.reference_number, person.party_type, person.primary_name) == ("90011", "individual", "ORTEGA VILLALBA, Ramon")
    assert person.dates_of_birth == ("1966-02-02",) and person.nationalities == ("Colombia",)
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
    hit = screen_name("Ramon Ortega Vilalba", index, score_cutoff=policy["review_threshold"])[0]
    assert (hit["source"], hit["reference_number"]) == ("OFAC_SDN", "90011")
    hit = screen_name("Petrenkowitsch Iwo", index, score_cutoff=policy["review_threshold"])[0]
    assert (hit["reference_number"], hit["matched_name_kind"]) == ("90001", "a.k.a. strong")
    assert screen_name("Estrella del Norte Trading", index, score_cutoff=90)[0]["reference_number"] == "90012"


def test_missing_configured_list_file_named(tmp_path):
    policy = load_policy({"screening": {"ofac_sdn_xml_path": str(tmp_path / "absent.xml")}})["screening"]
    with pytest.raises(FileNotFoundError, match="ofac_sdn_xml_path"):
        get_index(policy)
