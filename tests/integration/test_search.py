"""Hybrid agent search on a real PostgreSQL 18 + pgvector, with real all-MiniLM-L6-v2 embeddings.

Thirty agents with distinct financial-services descriptions are written by the catalog's own
activities (register, validate, move through the version state machine, index, go live), so the
catalog's maintenance of ``agents.embedding`` and ``agents.status`` is what search reads. They live
in a database of their own, so other tests' agents cannot enter the rankings.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass

import httpx
import psycopg
import pytest
from sqlmodel import Session

from activities.catalog import CatalogActivities
from activities.embeddings import embed
from shipway.db.engine import Database, sync_engine
from shipway.db.migrate import upgrade
from shipway.search import AgentHit, embed_query, search_agents
from tests.support.keys import bearer, make_key
from workflows.statuses import VersionStatus as V
from workflows.types import IndexInput, RegisterVersionInput, SetLiveVersionInput, SetVersionStatusInput, StoreSpecInput

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Seed:
    name: str
    description: str
    template: str
    tenant: str | None = None  # None: shared
    owner: str = "olivia.owner@bank.example"
    status: V = V.LIVE


CU, FD, CM, FA, PM = "credit_underwriting", "fraud_detection", "compliance_monitoring", "financial_analysis", "portfolio_management"
SEEDS = [
    Seed("credit-scorecard", "Scores consumer loan applications with a points-based scorecard built on bureau data and "
         "explains each decision to the underwriter.", CU),
    Seed("sme-credit-memo", "Writes credit memos for small business loans, summarising cash flow, collateral and covenants "
         "for the credit committee.", CU, owner="sam.lender@bank.example"),
    Seed("mortgage-affordability", "Checks whether mortgage applicants can afford repayments under interest rate stress "
         "scenarios.", CU, status=V.AWAITING_APPROVAL),
    Seed("collections-prioritiser", "Ranks overdue borrowers by likelihood to repay and suggests the next collection action.",
         CU, tenant="bank-a"),
    Seed("model-validation", "Back-tests credit risk models and writes validation reports under model risk management "
         "guidance.", CU, owner="mia.validator@bank.example"),
    Seed("card-fraud-monitor", "Detects fraudulent card payments in real time by scoring each authorisation for fraud risk "
         "and blocking the riskiest ones.", FD),
    Seed("chargeback-disputes", "Handles cardholder chargeback disputes, gathering evidence from merchants and drafting "
         "representment letters.", FD, status=V.REJECTED),
    Seed("account-takeover", "Spots account takeover attempts from unusual logins, new devices and password resets in "
         "online banking.", FD, tenant="bank-b"),
    Seed("aml-transaction-monitoring", "Monitors wire transfers for money laundering patterns such as structuring and rapid "
         "movement of funds, and opens alerts for investigators.", CM),
    Seed("sanctions-screening", "Checks counterparties and beneficiaries of outgoing payments against government "
         "watchlists before release.", CM),
    Seed("kyc-onboarding", "Verifies the identity of new customers from passport scans and proof of address during "
         "account opening.", CM, tenant="bank-a"),
    Seed("aml-case-summariser", "Summarises money laundering investigations into case narratives for filing with the "
         "financial intelligence unit.", CM, tenant="bank-b"),
    Seed("market-abuse-surveillance", "Reviews trading alerts for spoofing, layering and insider dealing, escalating "
         "suspicious orders to compliance.", CM),
    Seed("complaint-classifier", "Sorts customer complaints by product and root cause and flags those that must be reported "
         "to the regulator.", CM, owner="sam.lender@bank.example"),
    Seed("regulatory-change", "Tracks new rules from supervisors and maps each obligation to internal policies and owners.",
         CM, tenant="bank-a"),
    Seed("vendor-risk", "Assesses third-party suppliers for operational and cyber risk and tracks remediation.", CM),
    Seed("claims-triage", "Triages motor insurance claims, estimating repair cost from photos and routing complex cases to "
         "an adjuster.", FA, tenant="bank-a"),
    Seed("insurance-pricing", "Prices commercial property insurance policies from building characteristics, flood maps and "
         "loss history.", FA, tenant="bank-a"),
    Seed("loss-reserving", "Estimates outstanding claim reserves with chain-ladder triangles for the actuarial team.", FA,
         tenant="bank-a", status=V.AWAITING_APPROVAL),
    Seed("treasury-liquidity", "Forecasts intraday liquidity of the treasury desk from payment queues and central bank "
         "balances.", FA, tenant="bank-b"),
    Seed("invoice-duplicates", "Finds duplicate supplier invoices in accounts payable before they are paid twice.", FA,
         tenant="bank-b"),
    Seed("earnings-call-analyst", "Reads quarterly earnings call transcripts and summarises guidance changes, margins and "
         "management tone for equity analysts.", FA),
    Seed("trade-finance-docs", "Checks letters of credit and bills of lading for discrepancies before an import payment is "
         "released.", FA, status=V.FAILED),
    Seed("expense-audit", "Audits employee travel and expense claims against policy and flags personal spending.", FA),
    Seed("cash-forecasting", "Predicts a company's cash position for the next thirteen weeks from receivables, payables and "
         "payroll.", FA),
    Seed("portfolio-rebalancer", "Rebalances client investment portfolios back to their target asset allocation while "
         "limiting taxes and trading costs.", PM),
    Seed("esg-screening", "Scores listed companies on environmental, social and governance criteria to exclude them from "
         "sustainable funds.", PM),
    Seed("bond-risk", "Computes duration, convexity and value at risk for fixed income portfolios.", PM),
    Seed("pension-projection", "Projects retirement income for pension savers and suggests contribution changes.", PM,
         tenant="bank-b", status=V.AWAITING_APPROVAL),
    Seed("fx-hedging", "Recommends currency hedges for importers exposed to foreign exchange moves.", PM),
]
# the version state machine up to each seeded status
_APPROVAL = [V.VALIDATING, V.GUARDING, V.SCAFFOLDING, V.SCAFFOLDED, V.INDEXING, V.AWAITING_APPROVAL]
PATHS = {V.LIVE: [*_APPROVAL, V.DEPLOYING, V.LIVE], V.AWAITING_APPROVAL: _APPROVAL, V.REJECTED: [*_APPROVAL, V.REJECTED],
         V.FAILED: [*_APPROVAL, V.DEPLOYING, V.FAILED]}


async def _seed(catalog: CatalogActivities, seed: Seed) -> None:
    """One agent through the catalog's activities, as its lifecycle workflow would write it."""
    spec = {"name": seed.name, "owner": seed.owner, "description": seed.description, "template": seed.template}
    if seed.tenant:
        spec["tenant"] = seed.tenant
    await catalog.register_version(RegisterVersionInput(seed.name, 1, spec, seed.owner, f"agent:{seed.name}:v1"))
    await catalog.store_validated_spec(StoreSpecInput(seed.name, 1, spec))
    for status in PATHS[seed.status]:
        await catalog.set_version_status(SetVersionStatusInput(seed.name, 1, status))
        if status == V.INDEXING:
            await catalog.index_agent(IndexInput(seed.name, 1, seed.description))
    if seed.status == V.LIVE:
        await catalog.set_live_version(SetLiveVersionInput(seed.name, 1))


@pytest.fixture(scope="module")
async def search_url(pg_url: str):
    """A migrated database of its own holding only the seeded agents, written as the workers write."""
    name = f"search_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = pg_url.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    async with Database(url, pool_size=2, role="shipway_platform") as db:
        catalog = CatalogActivities(db, embed)
        for seed in SEEDS:
            await _seed(catalog, seed)
    yield url
    sync_engine(url).dispose()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _search(url: str, query: str, *, vector: bool = True, **filters) -> list[AgentHit]:
    with Session(sync_engine(url)) as s:
        return search_agents(s, query, embed_query(query) if vector else None, **filters)


def _by_name(hits: list[AgentHit]) -> dict[str, AgentHit]:
    return {h.name: h for h in hits}


def test_the_catalog_keeps_each_agents_status_and_embedding(search_url):
    with psycopg.connect(search_url) as conn:
        rows = dict(conn.execute("SELECT name, status FROM agents WHERE embedding IS NOT NULL").fetchall())
    assert rows == {seed.name: seed.status for seed in SEEDS}


async def test_the_status_is_the_live_versions_else_the_newest_versions(pg_url):
    name = f"status-{uuid.uuid4().hex[:8]}"
    spec = {"name": name, "owner": "olivia.owner@bank.example", "description": "Status bookkeeping.", "template": CU}

    def status() -> str:
        with psycopg.connect(pg_url) as conn:
            return conn.execute("SELECT status FROM agents WHERE name = %s", (name,)).fetchone()[0]

    async def move(version: int, *statuses: V) -> None:
        for st in statuses:
            await catalog.set_version_status(SetVersionStatusInput(name, version, st))

    async with Database(pg_url, pool_size=1, role="shipway_platform") as db:
        catalog = CatalogActivities(db, embed)
        await catalog.register_version(RegisterVersionInput(name, 1, spec, "olivia", f"agent:{name}:v1"))
        assert status() == "submitted"
        await move(1, V.VALIDATING)
        assert status() == "validating"
        await catalog.register_version(RegisterVersionInput(name, 2, spec, "olivia", f"agent:{name}:v2"))
        assert status() == "submitted", "no live version: the newest version's status"
        await move(1, *PATHS[V.LIVE][1:])
        await catalog.set_live_version(SetLiveVersionInput(name, 1))
        assert status() == "live"
        await move(2, V.VALIDATING, V.FAILED)
        assert status() == "live", "a newer version failing leaves the live one's status"
        await catalog.register_version(RegisterVersionInput(name, 3, spec, "olivia", f"agent:{name}:v3"))
        await move(3, *PATHS[V.LIVE])
        await catalog.set_live_version(SetLiveVersionInput(name, 3))
        assert status() == "live"
        await move(3, V.SUPERSEDED)
        assert status() == "superseded"


def test_a_paraphrase_sharing_no_word_finds_its_agent_first_through_the_vector_leg(search_url):
    hits = _search(search_url, "can this household keep up with paying off their house loan if rates rise?")
    assert all(h.text_rank is None for h in hits), "the query was meant to share no word with any description"
    assert hits[0].name == "mortgage-affordability" and hits[0].vector_rank == 1
    hits = _search(search_url, "stop crooks from hijacking people's internet bank logins")
    assert hits[0].name == "account-takeover" and hits[0].text_rank is None


def test_a_rare_keyword_in_a_name_wins_through_the_text_leg(search_url):
    meaning_only = _search(search_url, "sanctions", vector=True, limit=30)
    words = _search(search_url, "sanctions", vector=False)
    # only the name holds the word; by meaning alone the agent is not first
    assert [h.name for h in words] == ["sanctions-screening"] and words[0].text_rank == 1
    vector_rank = _by_name(meaning_only)["sanctions-screening"].vector_rank
    assert meaning_only[0].name == "sanctions-screening" and meaning_only[0].text_rank == 1
    assert vector_rank is not None and vector_rank > 1, "the vector leg alone already ranks it first: choose another word"


def test_an_agent_in_both_lists_outranks_one_in_a_single_list(search_url):
    """Reciprocal rank fusion: the text leg's only match beats the vector leg's first, which the text leg lacks."""
    hits = _search(search_url, "structuring", limit=30)
    top, *rest = hits
    assert top.vector_rank is not None and top.text_rank is not None
    vector_first = next(h for h in hits if h.vector_rank == 1)
    assert vector_first.name != top.name and vector_first.text_rank is None
    assert top.score == pytest.approx(1 / (60 + top.vector_rank) + 1 / (60 + top.text_rank))
    assert vector_first.score == pytest.approx(1 / 61) and vector_first.score < top.score
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_filters_keep_only_matching_agents(search_url):
    query = "credit risk of loan applicants"
    assert {h.status for h in _search(search_url, query, status="failed", limit=30)} == {"failed"}
    only = _search(search_url, query, status="awaiting_approval", limit=30)
    assert {h.name for h in only} == {s.name for s in SEEDS if s.status == V.AWAITING_APPROVAL}
    assert {h.name for h in _search(search_url, query, owner="sam.lender@bank.example", limit=30)} == {
        "sme-credit-memo", "complaint-classifier"}
    assert {h.template for h in _search(search_url, query, template=PM, limit=30)} == {PM}
    bank_a = _search(search_url, query, tenant="bank-a", limit=30)
    assert {h.tenant for h in bank_a} == {None, "bank-a"} and len(bank_a) == sum(s.tenant in (None, "bank-a") for s in SEEDS)
    both = _search(search_url, query, tenant="bank-b", status="awaiting_approval", template=PM)
    assert [h.name for h in both] == ["pension-projection"]


def test_a_query_without_an_embedding_ranks_by_words_only(search_url):
    hits = _search(search_url, "insurance", vector=False)
    assert {h.name for h in hits} == {"claims-triage", "insurance-pricing"}
    assert all(h.vector_rank is None and h.text_rank for h in hits)
    with Session(sync_engine(search_url)) as s:
        assert search_agents(s, "   ", None) == []
        with pytest.raises(ValueError):
            search_agents(s, "x", [0.1] * 3)


# -- through the gateway: tenant isolation, validation, the CLI -------------------------------------------
@pytest.fixture
def search_settings(search_url, settings_env, monkeypatch):
    """The test settings (Temporal server, state dir) on the search database: keys are made there."""
    from shipway.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", search_url)
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
async def gateway(search_settings):
    """The gateway app (real lifespan, role shipway_app under row-level security) over ASGI on the
    search database."""
    from shipway.gateway.app import create_app

    app = create_app()
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as http:
            yield http


async def test_a_tenant_finds_shared_and_its_own_agents_never_anothers(gateway):
    bank_a, bank_b = await make_key("bank-a", "viewer"), await make_key("bank-b", "caller")
    # bank-b's private AML agent answers this query best; bank-a must not see it at all
    query = {"q": "summarise money laundering investigations", "limit": 50}
    seen_a = (await gateway.get("/v1/agents/search", params=query, headers=bearer(bank_a))).json()
    seen_b = (await gateway.get("/v1/agents/search", params=query, headers=bearer(bank_b))).json()
    assert seen_b[0]["name"] == "aml-case-summariser" and seen_b[0]["tenant"] == "bank-b"
    assert "aml-case-summariser" not in {h["name"] for h in seen_a}
    assert {h["tenant"] for h in seen_a} == {None, "bank-a"}
    assert {h["name"] for h in seen_a} == {s.name for s in SEEDS if s.tenant in (None, "bank-a")}
    # a filter naming another tenant's private agent's fields still finds nothing of it
    r = await gateway.get("/v1/agents/search", params={"q": "intraday liquidity", "template": FA}, headers=bearer(bank_a))
    assert r.status_code == 200 and "treasury-liquidity" not in {h["name"] for h in r.json()}
    r = await gateway.get("/v1/agents/search", params={"q": "portfolios", "status": "live", "limit": 2}, headers=bearer(bank_a))
    assert r.status_code == 200 and len(r.json()) == 2 and {h["status"] for h in r.json()} == {"live"}


async def test_the_search_route_refuses_bad_queries_with_422(gateway):
    key = bearer(await make_key("bank-a", "viewer"))
    for params in ({}, {"q": ""}, {"q": "   "}, {"q": "x" * 501}, {"q": "fraud", "limit": 0}, {"q": "fraud", "limit": 51},
                   {"q": "fraud", "status": "dancing"}, {"q": "a\x00b"}):
        r = await gateway.get("/v1/agents/search", params=params, headers=key)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["error"]
    assert (await gateway.get("/v1/agents/search", params={"q": "x" * 500}, headers=key)).status_code == 200
    assert (await gateway.get("/v1/agents/search", params={"q": "fraud"})).status_code == 401


async def test_the_cli_searches_through_a_gateway_process(search_url, search_settings, tmp_path):
    from tests.support.gateways import gateway_processes

    token = await make_key("bank-b", "viewer")
    env = {"DATABASE_URL": search_url, "SHIPWAY_API_KEY": token}
    async with gateway_processes(1, env, tmp_path) as [url]:
        cli_env = {**env, "SHIPWAY_GATEWAY_URL": url}
        out = _cli(cli_env, "money laundering case narratives", "--status", "live")
        assert out.returncode == 0, out.stderr
        first = out.stdout.splitlines()[0]
        assert first.startswith(" 1. aml-case-summariser") and "tenant=bank-b" in first and "text #" in first
        refused = _cli(cli_env, "x" * 501)
        assert refused.returncode == 1 and "HTTP 422" in refused.stderr


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "shipway", "agent", "search", *args], capture_output=True, text=True,
                          timeout=180, env={**os.environ, **env})


def _as_app(url: str, tenant: str | None, query: str, **filters) -> list[AgentHit]:
    """Search as the gateway's role ``shipway_app`` through ``shipway_search_legs`` (migration 0014),
    the transaction naming ``tenant`` (None: naming none)."""
    from sqlalchemy import create_engine
    from sqlalchemy import text as sql_text

    from shipway.db.engine import role_options, sqlalchemy_url

    engine = create_engine(sqlalchemy_url(url), connect_args=role_options("shipway_app"))
    try:
        with Session(engine) as s:
            if tenant is not None:
                s.exec(sql_text("SELECT set_config('shipway.tenant', :t, true)"), params={"t": tenant})
            return search_agents(s, query, embed_query(query), for_transaction_tenant=True, limit=50, **filters)
    finally:
        engine.dispose()


def test_the_tenant_search_function_keeps_the_transactions_tenant_and_ranks_as_the_plain_search(search_url):
    query = "money laundering investigations"
    mine = {s.name for s in SEEDS if s.tenant in (None, "bank-a")}
    # the same agents, in the same order, as the plain search filtered by tenant
    plain = _search(search_url, query, tenant="bank-a", limit=50)
    through = _as_app(search_url, "bank-a", query)
    assert [h.name for h in through] == [h.name for h in plain]
    assert [(h.vector_rank, h.text_rank) for h in through] == [(h.vector_rank, h.text_rank) for h in plain]
    assert {h.name for h in through} <= mine and "aml-case-summariser" not in {h.name for h in through}
    # no tenant named: shared agents only (what the policy of agents gives shipway_app)
    assert {h.tenant for h in _as_app(search_url, None, query)} == {None}
    # filters apply inside the function; a tenant cannot be passed to it
    assert {h.status for h in _as_app(search_url, "bank-a", "portfolios", status="live")} == {"live"}
    with Session(sync_engine(search_url)) as s, pytest.raises(ValueError, match="from the transaction"):
        search_agents(s, query, None, tenant="bank-b", for_transaction_tenant=True)


def test_only_the_gateways_role_may_execute_the_tenant_search_function(search_url):
    with psycopg.connect(search_url, autocommit=True, options="-c role=shipway_platform") as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM shipway_search_legs(NULL, 'fraud', NULL, NULL, NULL, 5)")
