"""Per reference agent: p50/p95 latency of one run end to end (gateway -> Temporal -> graph with
Postgres checkpoints -> recorded) and of the graph alone (compiled with LangGraph's
InMemorySaver, in this process). Needs the stack with the agents live (``make demo``)."""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import httpx
import yaml
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from bench._common import gateway_run, pct
from reference_agents.registry import available_templates, get_agent
from shipway.settings import get_settings


def graph_alone_ms(agent, inputs: list[dict]) -> list[float]:
    """Milliseconds per run of the compiled graph alone, interrupts answered by the agent's rule."""
    graph = agent.build_graph({}).compile(checkpointer=InMemorySaver())
    out = []
    for inp in inputs:
        payload = agent.input_model.model_validate(inp).model_dump(mode="json")
        cfg = {"configurable": {"thread_id": str(uuid.uuid4())}}
        t0 = time.perf_counter()
        graph.invoke(payload, cfg)
        while (state := graph.get_state(cfg)).interrupts:
            graph.invoke(Command(resume=agent.resume_value(state.interrupts[0].value, inp)), cfg)
        out.append((time.perf_counter() - t0) * 1000)
    return out


async def main(n: int) -> None:
    async with httpx.AsyncClient(base_url=get_settings().resolved_gateway_url(), timeout=300,
                                 headers=get_settings().auth_headers()) as http:
        print(f"{'agent':<24}{'runs':>5}{'e2e p50 ms':>12}{'e2e p95 ms':>12}{'graph p50 ms':>14}{'graph p95 ms':>14}")
        for template in available_templates():
            agent = get_agent(template)
            name = yaml.safe_load(agent.spec_path.read_text())["name"]
            inputs = agent.sample_inputs(n)
            graph_alone_ms(agent, inputs[:2])  # warm caches (data files, models)
            g = graph_alone_ms(agent, inputs)
            await gateway_run(http, name, inputs[0], agent.resume_value)
            e2e = [await gateway_run(http, name, inp, agent.resume_value) for inp in inputs]
            print(f"{name:<24}{len(inputs):>5}{pct(e2e, 50):>12.1f}{pct(e2e, 95):>12.1f}{pct(g, 50):>14.1f}{pct(g, 95):>14.1f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=20, help="runs per agent")
    asyncio.run(main(ap.parse_args().n))
