"""Name matching a model-risk review asks for, on the real UN list (2020-11-24): common names are
down-weighted, alias quality and secondary identifiers (date of birth at the list's TYPE_OF_DATE
precision, nationality) raise or lower a match, initials and split or concatenated name parts are
handled, Cyrillic transliterates, and the demo analyst never confirms on a name alone."""

from __future__ import annotations

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from reference_agents.compliance_monitoring import AGENT
from reference_agents.compliance_monitoring.policy import load_policy
from reference_agents.compliance_monitoring.tools.entries import BirthDate
from reference_agents.compliance_monitoring.tools.identifiers import dob_evidence
from reference_agents.compliance_monitoring.tools.watchlist import get_index, screen_name

POLICY = load_policy()["screening"]
# every candidate above the name-score floor, to see how its score was made
EVERYTHING = {**POLICY, "review_threshold": 0, "max_candidates": 100}
COMMON = ["Mohammed Ali", "Abdul Rahman", "Ali Hassan", "Muhammad Khan"]


@pytest.fixture(scope="module")
def graph():
    return AGENT.build_graph({}).compile(checkpointer=InMemorySaver())


@pytest.fixture(scope="module")
def index():
    return get_index(POLICY)


def analyst_candidates(graph, payload: dict, thread: str) -> list[dict]:
    """The candidates the analyst is asked about ([] when the run does not interrupt)."""
    state = graph.invoke(payload, {"configurable": {"thread_id": thread}})
    return state["__interrupt__"][0].value["context"]["candidates"] if "__interrupt__" in state else []


@pytest.mark.parametrize("name", COMMON)
def test_common_name_alone_does_not_reach_the_analyst(graph, name):
    assert analyst_candidates(graph, {"name": name}, f"common-{name}") == []


@pytest.mark.parametrize("name", COMMON)
def test_common_name_keeps_its_name_score_but_loses_points_for_being_common(index, name):
    top = screen_name(name, index, EVERYTHING)[0]
    assert top["name_score"] >= 95 and top["common_name_penalty"] >= 10
    assert top["score"] < POLICY["review_threshold"] and top["strong_match"] is False


@pytest.mark.parametrize("name", COMMON)
def test_demo_analyst_does_not_block_a_common_name(graph, name):
    config = {"configurable": {"thread_id": f"common-demo-{name}"}}
    payload = {"name": name, "party_type": "individual"}
    state = graph.invoke(payload, config)
    while "__interrupt__" in state:
        state = graph.invoke(Command(resume=AGENT.resume_value(state["__interrupt__"][0].value, payload)), config)
    assert AGENT.output(state)["decision"] != "blocked"


def test_low_quality_alias_weighs_less_than_a_good_one(index):
    hits = {h["reference_number"]: h for h in screen_name("Abdul Rahman", index, EVERYTHING)}
    good, low = hits["QDi.057"], hits["QDi.418"]  # both list an alias "Abdul Rahman": Good and Low
    assert (good["matched_name_kind"], low["matched_name_kind"]) == ("Good", "Low")
    assert good["name_score"] == low["name_score"] == 100
    assert low["alias_quality_weight"] < good["alias_quality_weight"] == 1.0 and low["score"] < good["score"]


def test_distinctive_name_is_not_penalised(index):
    top = screen_name("Joseph Kony", index, POLICY)[0]
    assert (top["reference_number"], top["strong_match"]) == ("CFi.009", True) and top["common_name_penalty"] < 1


def test_date_of_birth_raises_a_common_name_to_the_analyst_and_a_conflict_lowers_it(graph):
    # ALI KONY (CFi.010) lists the alias "Ali Mohammed" and EXACT years of birth 1992-1995
    agreeing = analyst_candidates(graph, {"name": "Mohammed Ali", "date_of_birth": "1994-05-01"}, "dob-agrees")
    assert agreeing and agreeing[0]["reference_number"] == "CFi.010"
    assert agreeing[0]["dob_evidence"] == "year" and agreeing[0]["score"] >= POLICY["review_threshold"]
    conflicting = analyst_candidates(graph, {"name": "Ri Won Ho", "date_of_birth": "1990-01-01"}, "dob-conflict")
    assert conflicting == []  # exact name, but listed EXACT 1964-07-17: a namesake
    exact = analyst_candidates(graph, {"name": "Ri Won Ho", "date_of_birth": "1964-07-17"}, "dob-exact")
    assert exact[0]["dob_evidence"] == "exact" and exact[0]["identifiers_agree"] is True


def test_date_of_birth_compared_at_the_lists_type_of_date():
    exact = [BirthDate("EXACT", "1964-07-17", 1964, 1964)]
    assert dob_evidence("1964-07-17", exact) == "exact"
    assert dob_evidence("1964-07-18", exact) == "partial"
    assert dob_evidence("1964", exact) == "year"
    assert dob_evidence("1965-07-17", exact) == "conflict"
    year = [BirthDate("EXACT", None, 1969, 1969)]
    assert (dob_evidence("1969-03-01", year), dob_evidence("1970", year)) == ("year", "conflict")
    about = [BirthDate("APPROXIMATELY", None, 1970, 1970)]
    assert [dob_evidence(str(y), about) for y in (1968, 1972, 1973)] == ["approximate", "approximate", "conflict"]
    between = [BirthDate("BETWEEN", None, 1965, 1968)]
    assert [dob_evidence(str(y), between) for y in (1964, 1965, 1968, 1969)] == ["conflict", "approximate",
                                                                               "approximate", "conflict"]
    assert dob_evidence("1990", exact + year + between) == "conflict"
    assert dob_evidence("1966", exact + year + between) == "approximate"  # the best listed date speaks
    assert dob_evidence(None, exact) is None and dob_evidence("1964", []) is None


def test_nationality_raises_or_lowers_the_match(index):
    base = screen_name("Ri Wonho", index, EVERYTHING)[0]
    same = screen_name("Ri Wonho", index, EVERYTHING, country="North Korean")[0]
    other = screen_name("Ri Wonho", index, EVERYTHING, country="DE")[0]
    assert base["reference_number"] == same["reference_number"] == other["reference_number"] == "KPi.033"
    assert (same["country_evidence"], other["country_evidence"], base["country_evidence"]) == ("agrees", "conflicts", None)
    assert other["score"] < base["score"] < same["score"]


def test_un_type_of_date_parsed(index):
    kony = next(e for e in index.entries if e.reference_number == "CFi.009")
    assert BirthDate("EXACT", "1964-09-18", 1964, 1964) in kony.birth_dates
    types = {d.type for e in index.entries for d in e.birth_dates}
    assert types == {"EXACT", "APPROXIMATELY", "BETWEEN"}
    assert sum(1 for e in index.entries for d in e.birth_dates if d.type == "BETWEEN") >= 25


@pytest.mark.parametrize(("query", "reference"), [("J. Kony", "CFi.009"), ("Kony, J.", "CFi.009"),
                                                  ("F. Bozize", "CFi.001")])
def test_initials_expand_to_the_listed_name(graph, query, reference):
    candidates = analyst_candidates(graph, {"name": query}, f"initials-{query}")
    assert candidates and candidates[0]["reference_number"] == reference
    assert candidates[0]["match_method"] == "initials"


def test_initials_with_a_common_surname_are_found_but_weighed_as_common(index):
    hits = screen_name("M. A. Khan", index, EVERYTHING)
    assert hits and all(h["match_method"] == "initials" for h in hits[:2])
    assert hits[0]["name_score"] >= 85 and hits[0]["score"] < POLICY["review_threshold"]


@pytest.mark.parametrize(("query", "reference"), [
    ("Abdulrahman Yasin", "QDi.037"),   # listed ABDUL RAHMAN YASIN
    ("Abdul Rahman Yasin", "QDi.037"),
    ("Ri Wonho", "KPi.033"),            # listed RI WON HO
    ("Riwon Ho", "KPi.033"),
    ("Daedong Creditbank", "KPe.023"),  # listed DAEDONG CREDIT BANK
])
def test_split_and_concatenated_name_parts_match(graph, query, reference):
    candidates = analyst_candidates(graph, {"name": query}, f"split-{query}")
    assert candidates and candidates[0]["reference_number"] == reference
    assert candidates[0]["name_score"] >= 95


def test_cyrillic_spelling_finds_the_listed_person(graph):
    candidates = analyst_candidates(graph, {"name": "Джозеф Кони"}, "cyrillic")
    assert candidates and candidates[0]["reference_number"] == "CFi.009"
    assert candidates[0]["primary_name"] == "JOSEPH KONY" and candidates[0]["match_method"] == "phonetic"


def test_demo_analyst_never_confirms_on_a_name_alone(graph):
    request = graph.invoke({"name": "Ri Won Ho"}, {"configurable": {"thread_id": "name-only"}})["__interrupt__"][0].value
    top = request["context"]["candidates"][0]
    assert top["name_score"] == 100 and top["dob_evidence"] is None
    assert AGENT.resume_value(request, {"name": "Ri Won Ho"})["decision"] == "false_positive"
    payload = {"name": "Ri Won Ho", "date_of_birth": "1964-07-17"}
    request = graph.invoke(payload, {"configurable": {"thread_id": "with-dob"}})["__interrupt__"][0].value
    answer = AGENT.resume_value(request, payload)
    assert (answer["decision"], answer["reference_number"]) == ("true_match", "KPi.033")
