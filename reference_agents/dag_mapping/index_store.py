"""The prepared code index of a repository, kept in the graph's LangGraph store (PostgreSQL +
pgvector on the platform, :mod:`shipway.graph_store`), so every worker process reuses one build.

One entry per (indexer version, repository fingerprint, languages), in the namespace
:func:`namespace`: one item per chunk (``chunk-<position>``: the
:class:`~reference_agents.dag_mapping.code_index.model.CodeChunk` fields and its ``position`` in
the prepared index), and one ``manifest`` item written last (``content_hash``, ``chunks``,
``skipped``, ``built_at``), so an entry whose writer died half-way has no manifest and is never read.
Every item expires ``ttl_seconds`` after the build (reads do not refresh it). Paths are
repository-relative and the fingerprint covers every file's bytes, so an entry holds nothing but
what is in those files: two jobs (two tenants) share one only when they indexed identical files.

Only whole functions (or SQL statements and CTEs) are embedded, on their ``text``: they are what a
semantic question about code names, and they are ~1/9 of the chunks (measured on ibis's TPC
directory: 171 of 1,609 chunks, 6 s to embed instead of 33 s). Ranking does not use the
embeddings (dense retrieval measured a wash: docs/dag_mapping.md); :func:`search_code` does.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

from langgraph.store.base import BaseStore, PutOp

from reference_agents.dag_mapping.code_index.model import FUNCTION, CodeChunk
from reference_agents.dag_mapping.code_index.repository import SkippedFile

MANIFEST = "manifest"
WRITE_BATCH = 1000
"""Items per store write: one multi-row INSERT each, far below PostgreSQL's 65,535 parameters."""
_CHUNK_FIELDS = tuple(f.name for f in dataclasses.fields(CodeChunk))


def _indexer_version() -> str:
    # chunks depend on the chunker's code: an entry written by another version is another entry
    digest = hashlib.sha256()
    for source in sorted((Path(__file__).parent / "code_index").glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()[:16]


INDEXER_VERSION = _indexer_version()
"""SHA-256 (16 hex digits) of the ``code_index`` package's sources: part of every namespace."""


@dataclass(frozen=True)
class StoredIndex:
    """An index read back from the store: ``chunks`` in index order, ``content_hash`` of the code
    index, the files ``skipped`` and ``built_at`` (Unix seconds)."""

    chunks: list[CodeChunk]
    content_hash: str
    skipped: list[SkippedFile]
    built_at: float


@dataclass(frozen=True)
class CodeHit:
    """One chunk a semantic search found, whole, and ``score``, its cosine similarity to the query."""

    chunk: CodeChunk
    score: float


def languages_key(languages: list[str] | tuple[str, ...] | set[str] | None) -> str:
    """The namespace label of a languages selection: ``"all"`` for None or none named (the index
    keeps every language then), else the sorted names joined by ``+`` (``"python+sql"``)."""
    return "+".join(sorted(languages)) if languages else "all"


def namespace(fingerprint: str, languages) -> tuple[str, ...]:
    """The store namespace of one entry: ``("code_index", INDEXER_VERSION, fingerprint,
    languages_key(languages))``."""
    return ("code_index", INDEXER_VERSION, fingerprint, languages_key(languages))


def save_index(store: BaseStore, fingerprint: str, languages, chunks: list[CodeChunk], content_hash: str,
               skipped: list[SkippedFile], ttl_seconds: float) -> None:
    """Write one entry: the ``chunks`` of the prepared index (in its order; functions embedded),
    then the manifest. Each item expires ``ttl_seconds`` (> 0) after its write; the manifest,
    written last, expires last. Raises what the store raises (``psycopg.Error`` for PostgreSQL)."""
    ns, ttl_minutes = namespace(fingerprint, languages), ttl_seconds / 60
    puts = [
        PutOp(ns, f"chunk-{position:07d}", {**dataclasses.asdict(chunk), "position": position},
              index=["text"] if chunk.kind == FUNCTION else False, ttl=ttl_minutes)
        for position, chunk in enumerate(chunks)
    ]
    for start in range(0, len(puts), WRITE_BATCH):
        store.batch(puts[start:start + WRITE_BATCH])
    manifest = {"content_hash": content_hash, "chunks": len(chunks), "built_at": time.time(),
                "skipped": [{"path": s.path, "reason": s.reason} for s in skipped]}
    store.batch([PutOp(ns, MANIFEST, manifest, index=False, ttl=ttl_minutes)])


def _chunk(value: dict) -> CodeChunk:
    """The chunk a stored item's value holds (it also has its ``position``)."""
    return CodeChunk(**{f: value[f] for f in _CHUNK_FIELDS})


def load_index(store: BaseStore, fingerprint: str, languages) -> StoredIndex | None:
    """The entry of (``fingerprint``, ``languages``), or None when there is none, it expired, or
    part of it is missing (its chunks expired a moment before its manifest, or were deleted).
    Raises what the store raises."""
    ns = namespace(fingerprint, languages)
    manifest = store.get(ns, MANIFEST, refresh_ttl=False)
    if manifest is None:
        return None
    count = manifest.value["chunks"]
    items = store.search(ns, limit=count + 1, refresh_ttl=False)  # + 1: the manifest itself
    rows = sorted((i.value for i in items if i.key != MANIFEST), key=lambda v: v["position"])
    if [r["position"] for r in rows] != list(range(count)):
        return None
    return StoredIndex(
        chunks=[_chunk(r) for r in rows],
        content_hash=manifest.value["content_hash"],
        skipped=[SkippedFile(s["path"], s["reason"]) for s in manifest.value["skipped"]],
        built_at=manifest.value["built_at"],
    )


def search_code(store: BaseStore, fingerprint: str, languages, query: str, limit: int = 10) -> list[CodeHit]:
    """The functions (SQL statements, CTEs) of one stored entry most similar in meaning to
    ``query``, best first, at most ``limit`` (>= 1); empty when the entry is missing or the store
    has no embedding index. Raises what the store raises."""
    items = store.search(namespace(fingerprint, languages), query=query, limit=limit, refresh_ttl=False)
    return [
        CodeHit(_chunk(i.value), i.score)
        for i in items if i.key != MANIFEST and i.score is not None
    ]
