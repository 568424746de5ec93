"""``shipway demo`` itself, on a few real inputs per reference agent and for the example LangGraph
project: every agent goes through its whole lifecycle, serves traffic through the gateway from its
artifact (interrupts answered by the demo reviewers), and the summary reports what each decided."""

from __future__ import annotations

import httpx
import pytest
import yaml

from reference_agents.registry import available_templates, get_agent
from shipway import queries
from shipway.demo import run_demo
from shipway.gateway.app import create_app
from tests.support.keys import bearer, make_key
from workflows.statuses import VersionStatus

pytestmark = pytest.mark.asyncio(loop_scope="session")
# enough inputs that the agents with a human step interrupt at least once on their own data
TRAFFIC = {"credit_underwriting": 12, "financial_analysis": 2, "compliance_monitoring": 6, "fraud_detection": 12,
           "portfolio_management": 2, "dag_mapping": 3, "loan-document-checklist": 6}


async def test_demo_takes_every_reference_agent_live_and_through_real_traffic(worker, db):
    lines: list[str] = []
    before = max((e.id for e in await db.read(queries.audit_events, limit=100_000)), default=0)
    app = create_app()
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway", timeout=300,
                                     headers=bearer(await make_key(name="demo"))) as http:
            results = await run_demo(say=lines.append, traffic=TRAFFIC, http=http)
    text = "\n".join(lines)
    assert set(results) == {*available_templates(), "loan-document-checklist"}
    for template, res in results.items():
        assert not res.failures, (template, res.failures)
        # every input is counted: the cold first run and the traffic after it
        assert len(res.outputs) == TRAFFIC[template], template
    assert results["credit_underwriting"].first_status["interrupted"] >= 1, "no referral reached the demo underwriter"
    assert any(o["ready_for_underwriting"] for o in results["loan-document-checklist"].outputs)
    # the mapping agent's accuracy line, scored against the automatic ground truth
    assert results["dag_mapping"].first_status["interrupted"] >= 1, "no mapping job reached the demo reviewer"
    assert "3 plans," in text and "against the ground truth" in text and "line@1" in text
    # the demo's own agents (other tests in this process may leave agents of these templates in other states)
    demo_names = {yaml.safe_load(get_agent(t).spec_path.read_text())["name"] for t in available_templates()}
    for agent in await db.read(queries.agents):
        if agent.name in demo_names or agent.name == "loan-document-checklist":
            assert agent.live_version is not None, agent.name
            assert await db.read(queries.version_status, agent.name, agent.live_version) == VersionStatus.LIVE, agent.name
    assert "5. Summary" in text and "Credit Underwriting, first decision" in text
    # this test's database is the shared one named by DATABASE_URL: the recovery step says why it skips
    assert "6. Recovery" in text and "skipped: the database is not the embedded one" in text
    # access control on the demo's own runs: no key, a viewer's answer, another tenant's read
    assert "no key, GET /v1/runs/{id}: 401" in text and "viewer key, POST /v1/runs/{id}/resume: 403" in text
    assert "tenant demo-other-bank, GET /v1/runs/{id}: 404" in text
    # the injected headline is blocked by a rail; every other run passed its guards
    injected = next(line for line in lines if "with an injected headline" in line)
    assert ": blocked (rail " in injected and "PII_BLOCKED" not in injected, injected
    verdicts = {(g.agent, g.stage, g.verdict) for g in await db.read(queries.guard_stats)}
    assert {(name, "input", "pass") for name in demo_names} <= verdicts
    # the demo's own answers (earlier tests resumed runs under other names)
    resumed = [e for e in await db.read(queries.audit_events, action_prefix="run.resumed", limit=100_000) if e.id > before]
    assert resumed and all(e.actor == "demo.reviewer" for e in resumed)
