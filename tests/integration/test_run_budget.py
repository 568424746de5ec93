"""Per-run budgets and the cost of every graph node, on a real Temporal server and PostgreSQL: an
agent whose three nodes each make one chat-model call (the real langchain-openai client against a
loopback server speaking the OpenAI API) is started through the gateway, which takes the budget
from the version's spec (``max_cost_usd``)."""

from __future__ import annotations

from collections import Counter

import psycopg
import pytest
from alembic import command
from sqlmodel import col, select

from shipway import queries
from shipway.db.migrate import alembic_config, upgrade
from shipway.db.models import GuardResult, LlmUsage
from shipway.pricing import price_usd
from tests.integration.test_migrations import fresh_db  # noqa: F401  (fixture: a new, empty database)
from tests.support.lifecycle import counting_spec, deploy
from tests.support.openai_stub import OpenAIStub, use_stub
from workflows.statuses import RunStatus

# the async tests share the session loop of the worker and gateway fixtures (the migration test is sync)
session_loop = pytest.mark.asyncio(loop_scope="session")

MODEL = "gpt-4o-mini"
PROMPT_TOKENS = 10  # the stub counts words: "Write the <node> of a short note on the topic."
TEXT = "A short factual note."


async def _deploy(worker, db, max_cost_usd: float | None, **overrides) -> str:
    spec = counting_spec(template="llm_chain_agent:AGENT", model=f"openai:{MODEL}", max_cost_usd=max_cost_usd,
                         description="A three-node test agent making one LLM call per node, for run budgets.", **overrides)
    name, _ = await deploy(worker, db, spec)
    return name


async def _call_cost(db, text: str) -> float:
    """What one node's call costs at the prices the worker reads (USD)."""
    return price_usd(MODEL, PROMPT_TOKENS, len(text.split()), await db.read(queries.model_prices))


async def _usage_rows(db, run_id: str) -> list[LlmUsage]:
    async with db.session() as s:
        return list((await s.exec(select(LlmUsage).where(LlmUsage.run_id == run_id).order_by(col(LlmUsage.id)))).all())


async def _run(gateway, name: str, body: dict) -> dict:
    r = await gateway.post(f"/v1/agents/{name}/runs?wait=true", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def _assert_run_cost_is_its_calls(run: dict, rows: list[LlmUsage], stub: OpenAIStub) -> None:
    assert len(rows) == len(stub.requests)
    assert run["tokens_in"] == sum(r.tokens_in for r in rows) == sum(u["prompt_tokens"] for u in stub.usages)
    assert run["tokens_out"] == sum(r.tokens_out for r in rows) == sum(u["completion_tokens"] for u in stub.usages)
    assert run["cost_usd"] == pytest.approx(sum(r.cost_usd for r in rows)) and run["cost_usd"] > 0


@session_loop
async def test_a_run_stops_at_the_node_boundary_where_its_budget_is_reached(worker, db, gateway, monkeypatch):
    per_call = await _call_cost(db, TEXT)
    budget = 1.5 * per_call  # the first call stays under it, the second reaches it
    name = await _deploy(worker, db, budget)
    with OpenAIStub(text=TEXT) as stub:
        use_stub(monkeypatch, stub)
        run = await _run(gateway, name, {"input": {"topic": "budgets"}})

    assert run["status"] == RunStatus.BUDGET_EXCEEDED, run
    assert len(stub.requests) == 2, "a node ran past the budget's boundary"
    assert stub.usages[0] == {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": len(TEXT.split()),
                              "total_tokens": PROMPT_TOKENS + len(TEXT.split())}
    # the agent's output function needs the last node's summary: the run returns the state so far
    assert run["output"] == {"topic": "budgets", "fail_in": "", "notes": [f"outline: {TEXT}", f"draft: {TEXT}"]}
    assert "max_cost_usd" in run["error"] and "'draft'" in run["error"]
    rows = await _usage_rows(db, run["run_id"])
    assert [r.node for r in rows] == ["outline", "draft"] and all(r.model == MODEL for r in rows)
    _assert_run_cost_is_its_calls(run, rows, stub)
    assert run["cost_usd"] >= budget and run["cost_usd"] == pytest.approx(2 * per_call)
    [event] = await db.read(queries.audit_events, f"run:{run['run_id']}", "run.budget_exceeded")
    assert event.detail["max_cost_usd"] == pytest.approx(budget) and event.detail["nodes"] == ["outline", "draft"]
    assert event.detail["output_withheld"] is None
    # a finished run releases its thread: the conversation may go on
    assert (await db.read(queries.thread, run["thread_id"])).active_run_id is None


@session_loop
async def test_a_budget_stop_releases_no_output_the_output_guard_withholds(worker, db, gateway, monkeypatch):
    leaky = "Contact records.officer@counting-bank.com for the figures."
    # addresses may leave a run, but only those its input carried
    name = await _deploy(worker, db, 1.5 * await _call_cost(db, leaky), guard={"output": {"EMAIL_ADDRESS": "allow"}})
    with OpenAIStub(text=leaky) as stub:
        use_stub(monkeypatch, stub)
        run = await _run(gateway, name, {"input": {"topic": "budgets"}})

    assert run["status"] == RunStatus.BUDGET_EXCEEDED and run["output"] is None, run
    assert len(stub.requests) == 2 and "output withheld (OUTPUT_PII_NOT_IN_INPUT" in run["error"]
    async with db.session() as s:
        verdicts = (await s.exec(select(GuardResult.stage, GuardResult.verdict).where(GuardResult.run_id == run["run_id"]))).all()
    assert ("output", "withheld") in verdicts
    [event] = await db.read(queries.audit_events, f"run:{run['run_id']}", "run.budget_exceeded")
    assert event.detail["output_withheld"].startswith("OUTPUT_PII_NOT_IN_INPUT")


@session_loop
async def test_a_run_within_its_budget_succeeds_with_the_cost_of_every_node(worker, db, gateway, monkeypatch):
    name = await _deploy(worker, db, 100.0)
    with OpenAIStub(text=TEXT) as stub:
        use_stub(monkeypatch, stub)
        run = await _run(gateway, name, {"input": {"topic": "budgets"}})

    assert run["status"] == RunStatus.SUCCEEDED, run
    assert run["output"]["notes"] == [f"{n}: {TEXT}" for n in ("outline", "draft", "polish")]
    rows = await _usage_rows(db, run["run_id"])
    assert [r.node for r in rows] == ["outline", "draft", "polish"]
    _assert_run_cost_is_its_calls(run, rows, stub)
    assert run["cost_usd"] == pytest.approx(3 * await _call_cost(db, TEXT))


@session_loop
async def test_the_calls_of_a_node_that_raises_are_charged_to_the_failed_run(worker, db, gateway, monkeypatch):
    name = await _deploy(worker, db, None)
    with OpenAIStub(text=TEXT) as stub:
        use_stub(monkeypatch, stub)
        run = await _run(gateway, name, {"input": {"topic": "budgets", "fail_in": "draft"}})

    assert run["status"] == RunStatus.FAILED and "asked to fail in node draft" in run["error"], run
    rows = await _usage_rows(db, run["run_id"])
    # every attempt of the failing step called the model before raising: all of them are charged
    assert Counter(r.node for r in rows) == {"outline": 1, "draft": len(stub.requests) - 1} and len(stub.requests) > 2
    _assert_run_cost_is_its_calls(run, rows, stub)


@session_loop
async def test_retries_of_a_failing_node_cannot_spend_past_the_budget(worker, db, gateway, monkeypatch):
    per_call = await _call_cost(db, TEXT)
    name = await _deploy(worker, db, 2.5 * per_call)
    with OpenAIStub(text=TEXT) as stub:
        use_stub(monkeypatch, stub)
        run = await _run(gateway, name, {"input": {"topic": "budgets", "fail_in": "draft"}})

    # attempt 1: outline + draft's call (2 calls), attempt 2: draft's call again (3 >= 2.5); attempt 3 runs nothing
    assert run["status"] == RunStatus.BUDGET_EXCEEDED, run
    assert len(stub.requests) == 3
    assert run["output"] == {"topic": "budgets", "fail_in": "draft", "notes": [f"outline: {TEXT}"]}
    rows = await _usage_rows(db, run["run_id"])
    assert [r.node for r in rows] == ["outline", "draft", "draft"]
    _assert_run_cost_is_its_calls(run, rows, stub)


@session_loop
async def test_a_budget_spent_when_the_graph_interrupts_stops_the_run_without_asking_a_human(worker, db, gateway, tmp_path):
    # the counting agent's node b calls a fake chat model (1000 tokens in and out) before it asks a human
    per_call = price_usd(MODEL, 1000, 1000, await db.read(queries.model_prices))
    name, _ = await deploy(worker, db, counting_spec(config={"llm_tokens": 1000}, max_cost_usd=per_call / 2))
    run = await _run(gateway, name, {"input": {"log_path": str(tmp_path / "nodes.log"), "ask": True}})

    assert run["status"] == RunStatus.BUDGET_EXCEEDED and run["interrupt"] is None, run
    assert run["output"]["visited"] == ["a"], "node b interrupted: its update is not part of the state"
    rows = await _usage_rows(db, run["run_id"])
    assert [(r.node, r.tokens_in) for r in rows] == [("b", 1000)] and run["cost_usd"] == pytest.approx(rows[0].cost_usd)
    assert (tmp_path / "nodes.log").read_text().split() == ["a"]


def test_0012_admits_budget_exceeded_runs_and_the_node_of_llm_calls(fresh_db: str) -> None:  # noqa: F811
    """Rows written under 0011 survive; 0012 accepts ``budget_exceeded`` and a node per call; downgrading
    turns budget-stopped runs into ``failed`` and refuses the status again."""
    command.upgrade(alembic_config(fresh_db), "0011")
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("INSERT INTO runs (id, agent_name, version, thread_id, tenant, status, input, workflow_id, started_at, "
                     "wait_ms, tokens_in, tokens_out, cost_usd) VALUES ('r1', 'a', 1, 't1', 'default', 'succeeded', '{}', "
                     "'run:r1', now(), 0, 0, 0, 0)")
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("UPDATE runs SET status = 'budget_exceeded' WHERE id = 'r1'")
    upgrade(fresh_db)
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("UPDATE runs SET status = 'budget_exceeded' WHERE id = 'r1'")
        conn.execute("INSERT INTO llm_usage (run_id, model, tokens_in, tokens_out, cost_usd, node, created_at) "
                     "VALUES ('r1', 'gpt-4o-mini', 1, 1, 0.5, 'draft', now())")
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("UPDATE runs SET status = 'bogus' WHERE id = 'r1'")
    command.downgrade(alembic_config(fresh_db), "0011")
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SELECT status FROM runs").fetchone() == ("failed",)
        assert conn.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = 'llm_usage' "
                            "AND column_name = 'node'").fetchone() == (0,)
