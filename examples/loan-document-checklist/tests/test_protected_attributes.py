"""Protected attributes (age, sex / marital status, foreign worker) never change a checklist."""

from __future__ import annotations

import itertools
import json

from langgraph.types import Command

from loan_checklist.attributes import PROTECTED_ATTRIBUTES, categories
from loan_checklist.rules import CHECKLIST

# Every value the data has for each protected attribute, the extremes of age, and "not given".
VARIANTS = [
    dict(zip(PROTECTED_ATTRIBUTES, values))
    for values in itertools.product([*categories()["personal_status_and_sex"], None], [19, 45, 75, None],
                                    [*categories()["foreign_worker"], None])
]


def test_no_rule_reads_a_protected_attribute():
    read = {c.field for rule in CHECKLIST.rules for c in [*rule.all_of, *rule.any_of]}
    assert read.isdisjoint(PROTECTED_ATTRIBUTES)


def test_no_checklist_of_the_1000_applications_depends_on_a_protected_attribute(applications):
    for application in applications:
        expected = CHECKLIST.evaluate(application)
        for variant in VARIANTS:
            assert CHECKLIST.evaluate({**application, **variant}) == expected, (application["application_id"], variant)


def test_the_graph_gives_the_same_result_and_interrupt_whatever_the_protected_attributes(graph, app):
    for row in (2, 3, 18, 47):  # two with an officer review, a standard one, one without employment income
        results = set()
        for i, variant in enumerate(VARIANTS):
            thread = {"configurable": {"thread_id": f"row{row}-{i}"}}
            out = graph.invoke({**app(row), **{k: v for k, v in variant.items() if v is not None}}, thread)
            if "__interrupt__" in out:
                payload = out["__interrupt__"][0].value
                codes = payload["answer_schema"]["properties"]["received"]["items"]["enum"]
                out = graph.invoke(Command(resume={"decision": "request_more", "reviewer": "o", "received": codes[:1]}),
                                   thread)
                out = {"payload": payload, **out}
            results.add(json.dumps(out, sort_keys=True))
        assert len(results) == 1, row


def test_intake_drops_protected_attributes_before_any_rule_runs(graph, thread, app):
    graph.invoke(app(2), thread)  # stops at the officer's interrupt
    state = graph.get_state(thread).values
    assert set(state["application"]).isdisjoint(PROTECTED_ATTRIBUTES)
    payload = graph.get_state(thread).interrupts[0].value
    text = json.dumps(payload)
    assert not any(name in text for name in PROTECTED_ATTRIBUTES)
    assert app(2)["personal_status_and_sex"] not in text
