"""The DAG -> code mapping graph: map every node of a query plan to the code that produced it.

``parse_plan`` (the repository within the spec's roots, the input validated, the plan as node rows)
-> ``ensure_index`` (the repository's prepared code index: from the process cache when fresh, else
from the graph's store, else built and stored: :mod:`.index_cache`, :mod:`.index_store`) -> ``plan_context``
(the code units the whole plan ranks best, from all its tables, columns and constants) -> waves of
``dispatch`` -> ``map_node`` x at most N (one ``Send`` branch per node) -> ``collect`` -> ...
-> ``human_review`` (one interrupt listing every low-confidence node, if any) -> ``persist``.

Waves, bottom-up: a node is dispatched once all its children are mapped (a parent's re-ranking
reads where its children were placed: data flow), at most N per wave, N = the input's
``max_parallel_nodes``, lowered to the caller's ``max_concurrency`` when one is passed. Only the
wave's branches run in its superstep, so no more than N nodes are ever mapped at once, whatever
config the platform's worker invokes the graph with.

Routing by confidence (:mod:`.mapper.mapper`): >= 0.8 accepted; in [0.5, 0.8) the mapper takes a
second, wider pass, and a node still in that band is re-ranked by the LLM when one is configured
(``config["configurable"]["model"]``; ``collect``, one call at a time, alternatives kept); < 0.5 goes
to a person. LLM calls are priced as they return; before each, a job whose cost reached
``max_job_cost_usd`` maps the remaining nodes without the LLM and is marked ``cost_capped``.
"""

from __future__ import annotations

from typing import Literal

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.store.base import BaseStore
from langgraph.types import Send

from reference_agents.common.hitl import ask_human
from reference_agents.common.llm import get_chat_model, model_from_config
from reference_agents.dag_mapping import node_task
from reference_agents.dag_mapping.index_cache import INDEX_CACHE, INDEX_TTL_SECONDS
from reference_agents.dag_mapping.inputs import MappingJobInput, check_repository_root, default_repository_roots
from reference_agents.dag_mapping.llm_rerank import choose_candidate
from reference_agents.dag_mapping.mapper.mapper import rank_plan
from reference_agents.dag_mapping.outputs import mapping_row
from reference_agents.dag_mapping.plan_rows import from_rows, subtree_rows, to_rows
from reference_agents.dag_mapping.plans.model import post_order
from reference_agents.dag_mapping.plans.registry import parse_plan as read_plan
from reference_agents.dag_mapping.review import MappingReviewAnswer, answer_check, review_request, settle
from reference_agents.dag_mapping.state import JobInput, MappingState

_KNOBS = ("plan_format", "languages", "max_parallel_nodes", "retrieval_top_k", "max_job_cost_usd")


def parse_plan(state: MappingState) -> dict:
    """Validate the input (raises ``pydantic.ValidationError`` naming the field) and keep the plan
    as node rows, with the input's defaults filled in."""
    job = MappingJobInput.model_validate({k: state[k] for k in JobInput.__annotations__ if k in state})
    plan = from_rows(job.dag_nodes) if job.dag_nodes is not None else read_plan(job.plan_format, job.plan)
    return {"nodes": to_rows(plan), **{k: getattr(job, k) for k in _KNOBS}}


def wave_size(state: MappingState, config: RunnableConfig | None) -> int:
    """How many nodes one wave may map: the input's ``max_parallel_nodes``, lowered to the
    caller's ``max_concurrency`` when one is passed."""
    limit = state["max_parallel_nodes"]
    caller = (config or {}).get("max_concurrency")
    return min(limit, caller) if caller else limit


def dispatch(state: MappingState, config: RunnableConfig) -> dict:
    """The next wave: the unmapped nodes whose children are all mapped, bottom-up, at most
    :func:`wave_size`; an empty wave once every node is mapped."""
    results = state.get("results") or {}
    rows = state["nodes"]
    ready = [r["node_id"] for r in _rows_post_order(rows) if r["node_id"] not in results
             and all(c in results for c in r["children"])]
    return {"waves": [*state.get("waves", []), ready[: wave_size(state, config)]]}


def after_dispatch(state: MappingState) -> list[Send] | Literal["human_review", "persist"]:
    """One ``Send`` per node of the wave; after the last wave, a person when any node is in the
    review band, else ``persist``."""
    wave = state["waves"][-1]
    if not wave:
        return "human_review" if _low_confidence(state) else "persist"
    results = state.get("results") or {}
    rows = state["nodes"]
    by_id = {r["node_id"]: r for r in rows}
    return [
        Send("map_node", {
            "node_id": node_id,
            "subtree": subtree_rows(rows, node_id),
            "child_positions": [results[c]["position"] for c in by_id[node_id]["children"]
                                if results[c]["position"] is not None],
            "plan_context": state["plan_context"],
            "index": state["index"],
            "top_k": state["retrieval_top_k"],
        })
        for node_id in wave
    ]


def map_node(task: dict, store: BaseStore) -> dict:
    """Map one node (:func:`node_task.map_task`, looked up at call time so it can be observed), the
    index read from the graph's store first when this process has none (a resumed job, another worker)."""
    INDEX_CACHE.of(task["index"], store)
    result = node_task.map_task(task, INDEX_CACHE)
    return {"results": {result["node_id"]: result}}


def collect(state: MappingState, config: RunnableConfig) -> dict:
    """After a wave: re-rank its nodes still in the second-pass band with the configured LLM, one
    call at a time, stopping once the job's cost reaches its cap. Each such node's ``llm`` says
    what happened: ``chose`` (another candidate), ``kept`` (the structural choice), ``failed`` (no
    usable answer), ``no_model``, ``cost_capped``."""
    results = state["results"]
    name = model_from_config(config)
    cost, calls, capped = state.get("cost_usd", 0.0), state.get("llm_calls", 0), state.get("cost_capped", False)
    updated = {}
    for node_id in state["waves"][-1]:
        result = results[node_id]
        if result["band"] != "second_pass" or len(result["candidates"]) < 2:
            continue
        if name is None:
            updated[node_id] = {**result, "llm": "no_model"}
            continue
        if cost >= state["max_job_cost_usd"]:
            capped = True
            updated[node_id] = {**result, "llm": "cost_capped"}
            continue
        row = next(r for r in state["nodes"] if r["node_id"] == node_id)
        choice = choose_candidate(get_chat_model(name), name, row, result["candidates"], config=config)
        cost, calls = cost + choice.cost_usd, calls + 1
        updated[node_id] = _with_choice(result, choice.choice, choice.answered, choice.model)
    return {"results": updated, "cost_usd": cost, "llm_calls": calls, "cost_capped": capped}


def _with_choice(result: dict, choice: int, answered: bool, model: str) -> dict:
    if not answered:
        return {**result, "llm": "failed"}
    if choice == 0:
        return {**result, "llm": "kept", "llm_model": model}
    candidates = result["candidates"]
    chosen = candidates[choice]
    # the structural winner stays as the first alternative; confidence stays the mapper's estimate
    # (for the structural winner; an LLM's agreement is not calibrated)
    reordered = [chosen, *(c for i, c in enumerate(candidates) if i != choice)]
    span = {k: chosen[k] for k in ("path", "symbol", "start_line", "end_line", "position")}
    return {**result, **span, "candidates": reordered, "llm": "chose", "llm_model": model, "source": "llm_rerank",
            "explanation": f"{result['explanation']}; LLM {model} chose candidate {choice} over the structural winner"}


def human_review(state: MappingState) -> dict:
    """Ask a person once about every node in the review band (until a valid answer arrives) and
    settle each."""
    results = state["results"]
    low = _low_confidence(state)
    answer = ask_human(review_request(results, low), MappingReviewAnswer, answer_check(results, low))
    return {"results": {n: settle(results[n], answer) for n in low}, "review": answer.model_dump(mode="json")}


def persist(state: MappingState) -> dict:
    """The final ``code_mappings``, one per node in plan order (the platform stores them)."""
    results = state["results"]
    return {"code_mappings": [mapping_row(results[r["node_id"]], r["children"]) for r in state["nodes"]]}


def _low_confidence(state: MappingState) -> list[str]:
    results = state.get("results") or {}
    return [r["node_id"] for r in state["nodes"] if results[r["node_id"]]["band"] == "review"]


def _rows_post_order(rows: list[dict]) -> list[dict]:
    by_id = {r["node_id"]: r for r in rows}
    return post_order(rows[0], lambda r: [by_id[c] for c in r["children"]])


CONFIG_KEYS = ("index_ttl_seconds", "repository_roots")


def repository_roots(config: dict) -> list[str]:
    """The directories jobs of an agent with spec ``config`` may map into (``repository_roots``, else
    :func:`~reference_agents.dag_mapping.inputs.default_repository_roots`). Raises ValueError when
    ``repository_roots`` is not a non-empty list of path strings."""
    roots = config.get("repository_roots")
    if roots is None:
        return [str(r) for r in default_repository_roots()]
    if not isinstance(roots, list) or not roots or not all(isinstance(r, str) and r for r in roots):
        raise ValueError(f"repository_roots must be a non-empty list of directory paths, got {roots!r}")
    return roots


def build_graph(config: dict) -> StateGraph:
    """The uncompiled graph.

    Args:
        config: the spec's ``config``: ``index_ttl_seconds`` (how long a cached code index is
            reused, seconds, > 0; default :data:`~reference_agents.dag_mapping.index_cache.INDEX_TTL_SECONDS`);
            ``repository_roots`` (directories whose code jobs may map into, a non-empty list of
            paths; default :func:`~reference_agents.dag_mapping.inputs.default_repository_roots`);
            ``{}`` for defaults.

    Raises:
        ValueError: an unknown config key, a TTL that is not a positive number, or roots that are
            not a non-empty list of paths.
    """
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        raise ValueError(f"unknown config keys {unknown}; known: {list(CONFIG_KEYS)}")
    ttl = config.get("index_ttl_seconds", INDEX_TTL_SECONDS)
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl <= 0:
        raise ValueError(f"index_ttl_seconds must be a positive number of seconds, got {ttl!r}")
    roots = repository_roots(config)

    def parse(state: MappingState) -> dict:
        """:func:`parse_plan`, refusing first a repository outside the agent's roots
        (``RepositoryNotAllowed``), so a caller cannot learn which paths exist elsewhere."""
        if isinstance(state.get("repository"), str):
            check_repository_root(state["repository"], roots)
        return parse_plan(state)

    def ensure_index(state: MappingState, store: BaseStore) -> dict:
        """The repository's prepared index (cached in the process by path, content and languages,
        then in the graph's store, if any, by content and languages; raises
        ``RepositoryNotFound``/``ArchiveError`` for a path that is no repository)."""
        found = INDEX_CACHE.lookup(state["repository"], state["languages"], ttl, store)
        entry = found.entry
        return {"index": {
            "root": entry.root, "fingerprint": entry.fingerprint, "languages": state["languages"],
            "ttl_seconds": ttl, "content_hash": entry.content_hash, "chunks": len(entry.index.chunks),
            "source": found.source,
        }}

    def plan_context(state: MappingState, store: BaseStore) -> dict:
        """Rank the code units with every table, column, constant and aggregate of the plan."""
        index = INDEX_CACHE.of(state["index"], store).index
        return {"plan_context": node_task.context_rows(rank_plan(from_rows(state["nodes"]), index))}

    builder = StateGraph(MappingState, input_schema=JobInput)
    builder.add_node("parse_plan", parse)
    builder.add_node("ensure_index", ensure_index)
    builder.add_node("plan_context", plan_context)
    builder.add_node("dispatch", dispatch)
    builder.add_node("map_node", map_node)
    builder.add_node("collect", collect)
    builder.add_node("human_review", human_review)
    builder.add_node("persist", persist)
    builder.add_edge(START, "parse_plan")
    builder.add_edge("parse_plan", "ensure_index")
    builder.add_edge("ensure_index", "plan_context")
    builder.add_edge("plan_context", "dispatch")
    builder.add_conditional_edges("dispatch", after_dispatch, ["map_node", "human_review", "persist"])
    builder.add_edge("map_node", "collect")
    builder.add_edge("collect", "dispatch")
    builder.add_edge("human_review", "persist")
    builder.add_edge("persist", END)
    return builder
