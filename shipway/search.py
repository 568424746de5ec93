"""Hybrid search over agents: nearest description embeddings (pgvector HNSW) and PostgreSQL full-text
search, fused by reciprocal rank.

Two ranked lists of at most :data:`CANDIDATES` agents each (or ``limit``), from one SQL statement
(:data:`VECTOR_LEG` ``UNION ALL`` :data:`TEXT_LEG`):

- the vector leg: ``ORDER BY embedding <=> query LIMIT n`` on the HNSW index of ``agents.embedding``
  (cosine distance of L2-normalised all-MiniLM-L6-v2 embeddings), with ``hnsw.ef_search`` set for the
  transaction and pgvector's iterative index scan (``hnsw.iterative_scan = relaxed_order``, pgvector
  >= 0.8; the embedded PostgreSQL ships 0.8.6) so that filters do not starve it of rows; rows are
  re-sorted by exact distance, as relaxed order allows small inversions;
- the text leg: ``search_tsv @@ websearch_to_tsquery('english', text)`` (GIN index; words are ANDed,
  ``"quoted phrases"``, ``or`` and ``-word`` work) ranked by ``ts_rank_cd`` (cover density, name
  weighs 1.0, description 0.4, template 0.2).

Each agent's score is the sum over the lists it is in of ``1 / (k + rank)`` (rank 1-based, ``k`` = 60):
reciprocal rank fusion, Cormack, Clarke and Büttcher, "Reciprocal Rank Fusion outperforms Condorcet
and individual Rank Learning Methods", SIGIR 2009. It needs no calibration between cosine
distances and text ranks, and an agent found by both legs outranks one found by a single leg at
the same rank.

An agent's ``status`` is its live version's status, else its newest version's (``agents.status``,
kept by :mod:`activities.catalog`). Under the gateway's database role, row-level security would
keep either index from being used (PostgreSQL evaluates a policy before any operator not marked
LEAKPROOF, and neither ``@@`` nor ``<=>`` is): the gateway searches through ``shipway_search_legs``
(migration 0014, ``for_transaction_tenant=True``), which runs the same two legs as the tables' owner
and keeps the agents the transaction's tenant may run itself (measured in docs/operations.md, "Search").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam
from sqlalchemy import TextClause
from sqlalchemy import text as sql_text
from sqlmodel import Session

from pgvector.sqlalchemy import Vector
from shipway.db.models import EMBEDDING_DIM

# Candidates per leg before fusion (at least ``limit``), and the HNSW search breadth: chosen with
# bench/search.py at 100,000 agents (docs/operations.md, "Search"; the index: m=16, ef_construction=128).
CANDIDATES = 20
EF_SEARCH = 64
RRF_K = 60
MAX_QUERY_CHARS = 500

# Each leg returns its agents with their columns and 1-based rank; the legs present are joined by
# UNION ALL. No join back to ``agents``: under row-level security a join on the coalesced names of
# the two legs counted as leaky (not provably LEAKPROOF), so the policy ran first over a full scan.
COLUMNS = "a.name, a.description, a.owner, a.template, a.tenant, a.status, a.live_version"
VECTOR_LEG = f"""(SELECT *, 'vector' AS leg, row_number() OVER (ORDER BY distance, name) AS rank FROM (
  SELECT {COLUMNS}, a.embedding <=> CAST(:embedding AS vector) AS distance FROM agents a
  WHERE a.embedding IS NOT NULL {{filters}} ORDER BY distance LIMIT :candidates) v)"""
TEXT_LEG = f"""(SELECT *, 'text' AS leg, row_number() OVER (ORDER BY rank_cd DESC, name) AS rank FROM (
  SELECT {COLUMNS}, ts_rank_cd(a.search_tsv, q) AS rank_cd FROM agents a, websearch_to_tsquery('english', :text) q
  WHERE a.search_tsv @@ q {{filters}} ORDER BY rank_cd DESC, a.name LIMIT :candidates) t)"""
FILTERS = {
    "status": "a.status = :status",
    "owner": "a.owner = :owner",
    "template": "a.template = :template",
    # what the tenant's keys may run: shared agents and its own (the same rows RLS gives its gateway)
    "tenant": "(a.tenant IS NULL OR a.tenant = :tenant)",
}
# The same two legs for a tenant-scoped role, through the SECURITY DEFINER function of migration 0014:
# under row-level security neither ``@@`` nor ``<=>`` could use its index (not LEAKPROOF). The tenant
# is the one the transaction names (``shipway.tenant``), never an argument.
TENANT_LEGS = """SELECT name, description, owner, template, tenant, status, live_version, leg, rank
  FROM shipway_search_legs(CAST(:embedding AS vector), :text, :status, :owner, :template, :candidates)"""
SETTINGS_SQL = "SELECT set_config('hnsw.ef_search', :ef_search, true), set_config('hnsw.iterative_scan', 'relaxed_order', true)"


@dataclass(frozen=True)
class AgentHit:
    """One agent found: its catalog fields, RRF ``score``, and its 1-based rank in the vector and text
    lists (None when that list did not hold it)."""

    name: str
    description: str
    owner: str
    template: str
    tenant: str | None
    status: str
    live_version: int | None
    score: float
    vector_rank: int | None
    text_rank: int | None


@dataclass(frozen=True)
class Fused:
    """An item's reciprocal-rank-fusion score and its 1-based rank in each list (None: absent)."""

    name: str
    score: float
    vector_rank: int | None
    text_rank: int | None


def fuse(vector: Sequence[str], text_ranked: Sequence[str], k: int = RRF_K) -> list[Fused]:
    """Reciprocal rank fusion of two rankings (names, best first): score = sum over the lists holding a
    name of ``1 / (k + rank)``. Best first; ties go to the better single rank, then the name.

    Raises:
        ValueError: ``k`` < 1, or a name appears twice in one list.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    ranks: dict[str, list[int | None]] = {}
    for leg, names in enumerate((vector, text_ranked)):
        if len(set(names)) != len(names):
            raise ValueError("a ranking holds a name twice")
        for rank, name in enumerate(names, start=1):
            ranks.setdefault(name, [None, None])[leg] = rank
    fused = [Fused(name, sum(1.0 / (k + r) for r in (vr, tr) if r is not None), vr, tr) for name, (vr, tr) in ranks.items()]
    return sorted(fused, key=lambda f: (-f.score, min(r for r in (f.vector_rank, f.text_rank) if r is not None), f.name))


def search_agents(s: Session, text: str, embedding: list[float] | None, *, status: str | None = None, owner: str | None = None,
                  tenant: str | None = None, template: str | None = None, limit: int = 10, k: int = RRF_K,
                  ef_search: int = EF_SEARCH, for_transaction_tenant: bool = False) -> list[AgentHit]:
    """Agents matching ``text`` (full text) and ``embedding`` (its 384-float, L2-normalised embedding,
    :func:`embed_query`), best first by RRF score, at most ``limit``.

    A blank ``text`` skips the text leg and ``embedding=None`` the vector leg. Filters are exact
    matches; ``tenant`` keeps the agents that tenant may run (shared ones and its own). Sets
    ``hnsw.ef_search`` (at least the candidate count) and the iterative scan for the session's
    current transaction only. ``for_transaction_tenant``: search as a tenant-scoped role (the
    gateway's ``shipway_app``) through ``shipway_search_legs`` (migration 0014), which keeps the agents
    the transaction's ``shipway.tenant`` may run and uses both indexes; ``tenant`` must then be None.

    Raises:
        ValueError: ``limit`` < 1, ``k`` < 1, an embedding that is not 384 floats, or a ``tenant``
            with ``for_transaction_tenant``.
    """
    if for_transaction_tenant and tenant is not None:
        raise ValueError("for_transaction_tenant takes the tenant from the transaction; do not pass one")
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    if embedding is not None and len(embedding) != EMBEDDING_DIM:
        raise ValueError(f"embedding has {len(embedding)} dimensions, not {EMBEDDING_DIM}")
    text = text.strip()
    if embedding is None and not text:
        return []
    candidates = max(CANDIDATES, limit)
    filters = {key: value for key, value in (("status", status), ("owner", owner), ("tenant", tenant), ("template", template))
               if value is not None}
    if for_transaction_tenant:
        statement, params = tenant_statement(text, embedding, filters, candidates)
    else:
        statement, params = search_statement(text, embedding, filters, candidates)
    s.exec(sql_text(SETTINGS_SQL), params={"ef_search": str(max(ef_search, candidates))})
    rows = sorted(s.exec(statement, params=params), key=lambda r: r.rank)
    agents = {r.name: r for r in rows}
    fused = fuse([r.name for r in rows if r.leg == "vector"], [r.name for r in rows if r.leg == "text"], k)[:limit]
    return [AgentHit(name=f.name, description=agents[f.name].description, owner=agents[f.name].owner,
                     template=agents[f.name].template, tenant=agents[f.name].tenant, status=agents[f.name].status,
                     live_version=agents[f.name].live_version, score=f.score, vector_rank=f.vector_rank, text_rank=f.text_rank)
            for f in fused]


def search_statement(text: str, embedding: list[float] | None, filters: dict[str, str], candidates: int) -> tuple[TextClause, dict]:
    """The one SQL statement of :func:`search_agents` and its parameters: the vector leg when there is
    an ``embedding``, the text leg when ``text`` is not blank (at least one of them), ``candidates``
    rows each at most, ``filters`` (keys of :data:`FILTERS`) in both. Rows: the agent's columns,
    ``leg`` (``vector`` or ``text``) and ``rank`` (1-based) in it. Needs :data:`SETTINGS_SQL` first
    in the same transaction for the HNSW parameters.

    Raises:
        KeyError: a filter that is not one of :data:`FILTERS`.
    """
    where = "".join(f" AND {FILTERS[key]}" for key in filters)
    legs, params = [], {"candidates": candidates, **filters}
    if embedding is not None:
        legs.append(VECTOR_LEG.format(filters=where))
        params["embedding"] = embedding
    if text.strip():
        legs.append(TEXT_LEG.format(filters=where))
        params["text"] = text.strip()
    statement = sql_text(" UNION ALL ".join(legs))
    if embedding is not None:
        statement = statement.bindparams(bindparam("embedding", type_=Vector(EMBEDDING_DIM)))
    return statement, params


def tenant_statement(text: str, embedding: list[float] | None, filters: dict[str, str], candidates: int) -> tuple[TextClause, dict]:
    """:data:`TENANT_LEGS` and its parameters: the rows of :func:`search_statement` for the agents the
    transaction's tenant may run (``filters``: ``status``, ``owner``, ``template``).

    Raises:
        KeyError: a ``tenant`` filter (the function takes the transaction's).
    """
    if "tenant" in filters:
        raise KeyError("tenant")
    params = {"candidates": candidates, "embedding": embedding, "text": text.strip(),
              **{key: filters.get(key) for key in ("status", "owner", "template")}}
    return sql_text(TENANT_LEGS).bindparams(bindparam("embedding", type_=Vector(EMBEDDING_DIM))), params


def embed_query(query: str) -> list[float]:
    """The query's embedding (384 floats, L2-normalised) by the same local model that embedded the
    descriptions; CPU work (~10 ms, plus loading the model on first use, a few seconds): call it in a thread
    from async code.

    Raises:
        FileNotFoundError: no embedding model is installed or configured.
    """
    from activities.embeddings import embed

    return embed([query])[0]
