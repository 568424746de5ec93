"""Hybrid agent search at 100,000 agents: database query time and HNSW recall on this machine.

``python -m bench.search`` starts its own embedded PostgreSQL in a temp dir, migrates it, generates
``--agents`` varied descriptions (:mod:`bench.search_corpus`), embeds them with the real
all-MiniLM-L6-v2 (cached in ``--cache-dir`` as ``.npy``, so a rerun skips it), bulk-loads them with
``COPY``, builds the HNSW index, then runs ``--queries`` held-out queries through
:func:`shipway.search.search_agents` and prints:

- embedding throughput of the corpus, and embedding time per query (separately from the database);
- HNSW build time and parameters;
- per HNSW build (the shipped ``m``/``ef_construction``, and any ``--hnsw`` to compare) and per
  ``hnsw.ef_search``: the vector leg's time p50/p95 (ms) and recall@10 against exact search (brute
  force over the same vectors in numpy);
- at the shipped ``ef_search``: the hybrid query (both legs, fusion) p50/p95 by query kind, with a
  filter, and as the gateway's role under row-level security.

Times are "call" (all of ``search_agents`` from Python: ``SET LOCAL``, the statement, fusion,
rollback) and "server" (PostgreSQL's execution time of the statement, ``EXPLAIN ANALYZE`` with
timing off). With the corpus cached, a run takes about 5 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from bench.search_corpus import catalog

SAMPLE = 2000  # texts re-embedded to time the model when the corpus comes from the cache


def embed_corpus(texts: list[str], cache_dir: Path) -> tuple[np.ndarray, dict]:
    """Embeddings of ``texts`` (float32, L2-normalised, ``len(texts) x 384``) and how long they took
    (``{"texts", "seconds", "per_s", "cached"}``, plus ``sample_per_s`` of :data:`SAMPLE` texts timed
    now when cached); cached under ``cache_dir`` by a hash of the texts."""
    from activities.embeddings import model

    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    vectors, meta = cache_dir / f"corpus-{digest}.npy", cache_dir / f"corpus-{digest}.json"
    encoder = model()
    if vectors.exists() and meta.exists():
        # the cached figure came from another moment of this shared machine: time a sample now too
        t0 = time.perf_counter()
        encoder.encode(texts[:SAMPLE], batch_size=256, normalize_embeddings=True, convert_to_numpy=True)
        now = min(SAMPLE, len(texts)) / (time.perf_counter() - t0)
        return np.load(vectors), {**json.loads(meta.read_text()), "cached": True, "sample_per_s": round(now, 1)}
    t0 = time.perf_counter()
    out = encoder.encode(texts, batch_size=256, normalize_embeddings=True, convert_to_numpy=True).astype(np.float32)
    seconds = time.perf_counter() - t0
    info = {"texts": len(texts), "seconds": round(seconds, 1), "per_s": round(len(texts) / seconds, 1)}
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(vectors, out)
    meta.write_text(json.dumps(info))
    return out, {**info, "cached": False}


def exact_top(corpus: np.ndarray, query: np.ndarray, n: int) -> np.ndarray:
    """Row indexes of the ``n`` nearest corpus vectors by cosine distance (vectors are normalised, so
    the largest dot products), best first: the exact search HNSW recall is measured against."""
    sims = corpus @ query
    top = np.argpartition(-sims, n)[:n]
    return top[np.argsort(-sims[top])]


def load(url: str, agents: list, vectors: np.ndarray) -> None:
    """``COPY`` the agents (binary, embeddings included) into ``agents`` with its search indexes
    dropped (rebuilt by :func:`build_indexes`); live agents get live version 1."""
    import psycopg
    from pgvector.psycopg import register_vector

    with psycopg.connect(url) as conn:
        register_vector(conn)
        conn.execute("DROP INDEX IF EXISTS ix_agents_embedding_hnsw")
        conn.execute("DROP INDEX IF EXISTS ix_agents_search_tsv")
        with conn.cursor().copy("COPY agents (name, owner, template, description, tenant, status, live_version, embedding, "
                                "created_at) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["varchar", "varchar", "varchar", "varchar", "varchar", "varchar", "int4", "vector", "timestamptz"])
            now = datetime.now(timezone.utc)
            for agent, vec in zip(agents, vectors):
                copy.write_row([agent.name, agent.owner, agent.template, agent.description, agent.tenant, agent.status,
                                1 if agent.status == "live" else None, vec, now])
        conn.execute("ANALYZE agents")


def build_indexes(url: str, m: int, ef_construction: int) -> dict:
    """(Re)build the HNSW index with ``m`` / ``ef_construction`` and the GIN index, with enough
    ``maintenance_work_mem`` for the graph to fit; their build seconds and sizes (MB)."""
    import psycopg

    out = {}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("DROP INDEX IF EXISTS ix_agents_embedding_hnsw")
        for name, ddl in (("hnsw", f"CREATE INDEX ix_agents_embedding_hnsw ON agents USING hnsw (embedding vector_cosine_ops) "
                                   f"WITH (m = {m}, ef_construction = {ef_construction})"),
                          ("gin", "CREATE INDEX IF NOT EXISTS ix_agents_search_tsv ON agents USING gin (search_tsv)")):
            t0 = time.perf_counter()
            conn.execute(ddl)
            out[f"{name}_s"] = time.perf_counter() - t0
        for name, index in (("hnsw", "ix_agents_embedding_hnsw"), ("gin", "ix_agents_search_tsv")):
            out[f"{name}_mb"] = conn.execute(f"SELECT pg_relation_size('{index}') / 1e6").fetchone()[0]
        conn.execute("VACUUM ANALYZE agents")
    return out


def timed(call, items, warmup: int = 50) -> tuple[list[float], list]:
    """Each ``call(item)``'s duration (ms) and result, in order, after ``call`` on the first
    ``warmup`` items untimed (pages in shared buffers, plans and connections warm)."""
    for item in list(items)[:warmup]:
        call(item)
    ms, results = [], []
    for item in items:
        t0 = time.perf_counter()
        results.append(call(item))
        ms.append((time.perf_counter() - t0) * 1000)
    return ms, results


def settings_line(engine) -> str:
    """The PostgreSQL settings that shape these figures, and pgvector's version."""
    from sqlalchemy import text
    from sqlmodel import Session

    with Session(engine) as s:
        shown = [f"{k}={s.exec(text(f'SHOW {k}')).one()[0]}" for k in (
            "server_version", "shared_buffers", "work_mem", "effective_cache_size", "max_parallel_workers_per_gather", "jit")]
        version = s.exec(text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")).one()[0]
    return ", ".join([*shown, f"pgvector={version}"])


def sql_exact_agrees(engine, embedded: list[list[float]], exact: list[set[str]]) -> int:
    """For how many of the first 10 queries PostgreSQL's exact order (index scans off) has the same
    top 10 as the numpy exact search."""
    from sqlalchemy import text
    from sqlmodel import Session

    with Session(engine) as s:
        s.exec(text("SET LOCAL enable_indexscan = off"))
        return sum(set(s.exec(text("SELECT name FROM agents ORDER BY embedding <=> CAST(:q AS vector) LIMIT 10"),
                              params={"q": str(e)}).scalars()) == want for e, want in zip(embedded[:10], exact))


def server_ms(s, text: str, embedding: list[float] | None, filters: dict, ef_search: int, for_tenant: bool = False) -> float:
    """PostgreSQL's own execution time (ms, ``EXPLAIN (ANALYZE, TIMING OFF)``) of the statement
    :func:`shipway.search.search_agents` sends for these arguments (limit 10; ``for_tenant``: its
    ``for_transaction_tenant`` statement), in the session's current transaction (which a caller may
    have scoped to a tenant first); then rolls back."""
    from sqlalchemy import text as sql_text

    from shipway import search

    build = search.tenant_statement if for_tenant else search.search_statement
    statement, params = build(text, embedding, filters, search.CANDIDATES)
    if embedding is not None:
        params["embedding"] = str(embedding)  # the statement casts it
    s.exec(sql_text(search.SETTINGS_SQL), params={"ef_search": str(max(ef_search, search.CANDIDATES))})
    plan = s.exec(sql_text("EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + statement.text), params=params).one()[0]
    s.rollback()
    return plan[0]["Execution Time"]


def vector_leg_table(engine, embedded: list[list[float]], exact: list[set[str]], ef_values: list[int]) -> None:
    """Print, for each ``hnsw.ef_search``, the vector leg's time and recall@10: the production call
    (:func:`shipway.search.search_agents` with no text, one transaction each: ``call``) and its
    statement's execution inside PostgreSQL (``server``)."""
    from sqlmodel import Session

    from bench._common import pct
    from shipway import search

    print(f"  {'ef_search':>9}  {'call p50':>9} {'p95':>9}  {'server p50':>10} {'p95':>9}  {'recall@10':>9}")
    with Session(engine) as s:
        for ef in ef_values:
            def leg(e: list[float], ef: int = ef) -> list:
                hits = search.search_agents(s, "", e, limit=10, ef_search=ef)
                s.rollback()
                return hits

            # every query once untimed: a freshly built index is not all in shared buffers yet
            ms, hits = timed(leg, embedded, warmup=len(embedded))
            server, _ = timed(lambda e, ef=ef: server_ms(s, "", e, {}, ef), embedded)
            recall = np.mean([len({h.name for h in found} & want) / 10 for found, want in zip(hits, exact)])
            mark = "  <- shipped" if ef == search.EF_SEARCH else ""
            print(f"  {ef:>9}  {pct(ms, 50):6.2f} ms {pct(ms, 95):6.2f} ms  {pct(server, 50):7.2f} ms {pct(server, 95):6.2f} ms  "
                  f"{recall:9.3f}{mark}")


def hybrid_table(url: str, asked: list[tuple[str, str]], embedded: list[list[float]]) -> None:
    """Print the hybrid query's time (both legs, fusion, limit 10; ``call`` and ``server`` as in
    :func:`vector_leg_table`) by query kind: as the platform role, with a status filter, and as the
    gateway's role under row-level security for one tenant."""
    from sqlalchemy import create_engine, text
    from sqlmodel import Session

    from bench._common import pct
    from shipway import search
    from shipway.db.engine import role_options, sqlalchemy_url

    kinds = {kind: [i for i, (k, _) in enumerate(asked) if k == kind] for kind in ("paraphrase", "keyword")}
    print(f"  {'':30} {'':16} {'call p50':>9} {'p95':>9}  {'server p50':>10} {'p95':>9}")
    for label, role, filters in (("platform role (no RLS)", None, {}), ("platform role, status=live", None, {"status": "live"}),
                                 ("shipway_app, one tenant (RLS)", "shipway_app", {}),
                                 ("shipway_app, one tenant (0014 fn)", "shipway_app", {"for_transaction_tenant": True})):
        engine = create_engine(sqlalchemy_url(url), connect_args=role_options(role))
        with Session(engine) as s:
            def scope(role: str | None = role) -> None:
                if role:
                    s.exec(text("SELECT set_config('shipway.tenant', 'tenant-03', true)"))

            def hybrid(i: int, filters: dict = filters) -> list:
                scope()
                hits = search.search_agents(s, asked[i][1], embedded[i], **filters)
                s.rollback()
                return hits

            def server(i: int, filters: dict = filters) -> float:
                scope()
                return server_ms(s, asked[i][1], embedded[i], {k: v for k, v in filters.items() if k != "for_transaction_tenant"},
                                 search.EF_SEARCH, for_tenant=bool(filters.get("for_transaction_tenant")))

            for kind, idx in kinds.items():
                ms, hits = timed(hybrid, idx)
                inside = timed(server, idx)[1]
                from_text = np.mean([sum(h.text_rank is not None for h in found) for found in hits])
                print(f"  {label:30} {kind:10} ({len(idx)})  {pct(ms, 50):6.2f} ms {pct(ms, 95):6.2f} ms  "
                      f"{pct(inside, 50):7.2f} ms {pct(inside, 95):6.2f} ms  (top 10 holds {from_text:.1f} text-leg hits)")
        engine.dispose()


def main(n_agents: int, n_queries: int, ef_values: list[int], builds: list[tuple[int, int]], cache_dir: Path) -> None:
    """Everything the module docstring lists, printed as it goes."""
    import os

    from activities.embeddings import model
    from bench._common import pct
    from bench.search_corpus import queries
    from shipway import search
    from shipway.db.engine import sync_engine
    from shipway.db.migrate import upgrade
    from shipway.stack.ports import free_port
    from shipway.stack.postgres import EmbeddedPostgres

    print(f"hybrid agent search: {n_agents:,} agents, {n_queries} queries; {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f} at start (other processes share this machine: times are noisy)")
    agents = catalog(n_agents)
    vectors, info = embed_corpus([a.description for a in agents], cache_dir)
    words = sum(len(a.description.split()) for a in agents) / len(agents)
    print(f"corpus embeddings: {info['texts']:,} descriptions ({words:.0f} words on average) in {info['seconds']:.0f} s, "
          f"{info['per_s']:.0f}/s (all-MiniLM-L6-v2 on CPU, batches of 256)" +
          (f"  [from the cache; {SAMPLE:,} of them re-embedded now: {info['sample_per_s']:.0f}/s]" if info["cached"] else ""))
    asked = queries(n_queries)
    model()  # loaded before the queries' embeddings are timed
    embed_ms, embedded = timed(search.embed_query, [q for _, q in asked])
    print(f"query embeddings (one at a time, as the gateway computes them): p50 {pct(embed_ms, 50):.1f} ms  "
          f"p95 {pct(embed_ms, 95):.1f} ms; not part of the database times below")
    exact = [{agents[i].name for i in exact_top(vectors, np.asarray(e, dtype=np.float32), 10)} for e in embedded]

    root = Path(tempfile.mkdtemp(prefix="shipway-bench-search-"))
    server = EmbeddedPostgres(root)
    pg = server.start(free_port(), pick_free_port=True)
    try:
        upgrade(pg.url)
        t0 = time.perf_counter()
        load(pg.url, agents, vectors)
        print(f"COPY of {n_agents:,} agents (with their generated tsvector): {time.perf_counter() - t0:.1f} s")
        engine = sync_engine(pg.url)
        print(f"settings: {settings_line(engine)}")
        print(f"search: {search.CANDIDATES} candidates per leg, RRF k={search.RRF_K}, hnsw.iterative_scan=relaxed_order, "
              f"hnsw.ef_search=max(ef_search, candidates); shipped ef_search={search.EF_SEARCH}")
        for m, efc in builds:
            built = build_indexes(pg.url, m, efc)
            print(f"\nHNSW m={m} ef_construction={efc}: built in {built['hnsw_s']:.1f} s ({built['hnsw_mb']:.0f} MB); "
                  f"GIN on search_tsv {built['gin_s']:.1f} s ({built['gin_mb']:.0f} MB)")
            if (m, efc) == builds[0]:
                print(f"  exact search: numpy and PostgreSQL without the index agree on the top 10 for "
                      f"{sql_exact_agrees(engine, embedded, exact)} of 10 queries")
            vector_leg_table(engine, embedded, exact, ef_values)
        print(f"\nhybrid query (both legs, fusion, limit 10), ef_search={search.EF_SEARCH}, HNSW m={builds[-1][0]} "
              f"ef_construction={builds[-1][1]}; (n) = queries of that kind:")
        hybrid_table(pg.url, asked, embedded)
        engine.dispose()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)  # the cluster (about 1 GB); the embeddings cache stays


if __name__ == "__main__":
    from shipway.db.models import Agent

    shipped = next(ix for ix in Agent.__table__.indexes if ix.name == "ix_agents_embedding_hnsw").dialect_options["postgresql"]["with"]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agents", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--ef-search", default="40,64,100,200", help="hnsw.ef_search values to measure, comma-separated")
    ap.add_argument("--hnsw", action="append", default=[], metavar="M:EF_CONSTRUCTION",
                    help="also measure an index built with these parameters (repeatable); the shipped ones come last")
    ap.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "shipway-bench-search",
                    help="where corpus embeddings are cached (.npy, not in git)")
    a = ap.parse_args()
    builds = [tuple(int(x) for x in spec.split(":")) for spec in a.hnsw] + [(shipped["m"], shipped["ef_construction"])]
    main(a.agents, a.queries, [int(x) for x in a.ef_search.split(",")], builds, a.cache_dir)
