"""A governed agent with an LLM configured: routing and narrative through the real langchain-openai
client against a loopback server speaking the OpenAI chat-completions API; every call's tokens are
recorded on the run and priced."""

from __future__ import annotations

import uuid

import httpx
import pytest
import yaml
from sqlmodel import select

from reference_agents.financial_analysis import AGENT
from shipway.db.models import LlmUsage, ModelPrice
from shipway.gateway.app import create_app
from shipway.pricing import price_usd
from tests.support.keys import bearer, make_key
from tests.support.lifecycle import deploy
from tests.support.openai_stub import OpenAIStub, use_stub

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_llm_tokens_and_cost_are_recorded_on_the_run(worker, db, monkeypatch):
    spec = yaml.safe_load(AGENT.spec_path.read_text())
    spec.update(name=f"fin-llm-{uuid.uuid4().hex[:6]}", model="openai:gpt-4o-mini")
    name, _ = await deploy(worker, db, spec)

    # runs are priced from the model_prices table (seeded by migrate); an operator's price wins
    async with db.session() as s:
        price = (await s.exec(select(ModelPrice).where(ModelPrice.model == "gpt-4o-mini", ModelPrice.effective_to.is_(None)))).first()
        assert price is not None, "migrate did not seed model prices"
        price.input_usd_per_mtok, price.output_usd_per_mtok = 1000.0, 2000.0
        s.add(price)
        await s.commit()

    with OpenAIStub(text="MSFT fell in late 2008 and the tools flag a downtrend.", option="sentiment") as stub:
        use_stub(monkeypatch, stub)
        app = create_app()
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw", headers=bearer(await make_key())) as http:
                inp = {"tickers": ["MSFT"], "start": "2008-09-01", "end": "2008-12-31",
                       "headlines": [{"text": "Microsoft shares plunged as the outlook was cut and losses widened.",
                                      "date": "2008-12-01", "ticker": "MSFT"}]}
                r = await http.post(f"/v1/agents/{name}/runs?wait=true", json={"input": inp})
    assert r.status_code == 200, r.text
    run = r.json()
    assert run["status"] == "succeeded"
    assert run["output"]["narrative"] == stub.text
    assert stub.requests, "the LLM was never called"
    assert run["tokens_in"] == sum(u["prompt_tokens"] for u in stub.usages) > 0
    assert run["tokens_out"] == sum(u["completion_tokens"] for u in stub.usages) > 0
    expected = price_usd("gpt-4o-mini", run["tokens_in"], run["tokens_out"], {"gpt-4o-mini": (1000.0, 2000.0)})
    assert run["cost_usd"] == pytest.approx(expected) and expected > 0
    async with db.session() as s:
        calls = (await s.exec(select(LlmUsage).where(LlmUsage.run_id == run["run_id"]))).all()
    assert len(calls) == len(stub.requests) and all(c.model.startswith("gpt-4o-mini") for c in calls)
