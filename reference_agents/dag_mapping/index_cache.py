"""The prepared code index of a repository, built once and reused across plans and jobs.

Two levels: a module-level, bounded (least recently used out), expiring cache in the process
(:data:`INDEX_CACHE`) keyed by the repository's resolved path, its content fingerprint and the
languages kept; behind it, when the graph has a LangGraph store, the store
(:mod:`.index_store`: PostgreSQL + pgvector on the platform, shared by every worker), keyed by the
fingerprint and the languages. A process miss reads the store before it builds, and a build is
written to the store. A repository whose files change gets a new fingerprint, so a stale index is
never used for a new job; a job's later steps ask for the fingerprint its first step saw: the store
still has exactly those files' index, and a rebuild from the files raises :class:`RepositoryChanged`
if they changed in between (mixing two versions would be wrong).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from langgraph.store.base import BaseStore

from reference_agents.dag_mapping import index_store
from reference_agents.dag_mapping.code_index.repository import index_repository
from reference_agents.dag_mapping.code_index.repository_files import iter_source_files
from reference_agents.dag_mapping.mapper.mapper import MapperIndex

INDEX_TTL_SECONDS = 3600.0
"""How long a cached index is reused, seconds (the agent config's ``index_ttl_seconds``)."""
MAX_CACHED_INDEXES = 8
"""Indexes kept per process; the least recently used goes first."""


class RepositoryChanged(RuntimeError):
    """The repository's files changed while a job was mapping it; the message names the path."""


@dataclass(frozen=True)
class CachedIndex:
    """A prepared index: ``root`` (resolved path), ``fingerprint`` (:func:`fingerprint`),
    ``languages`` kept (``None``: all), the :class:`MapperIndex`, the code index's own
    ``content_hash``, and ``built_at`` (the cache clock's seconds)."""

    root: str
    fingerprint: str
    languages: tuple[str, ...] | None
    index: MapperIndex
    content_hash: str
    built_at: float

    @property
    def key(self) -> tuple[str, str, tuple[str, ...] | None]:
        """The cache key: (root, fingerprint, languages)."""
        return (self.root, self.fingerprint, self.languages)


Source = Literal["process", "store", "built"]


@dataclass(frozen=True)
class Lookup:
    """A prepared index and where it came from: this process's cache (``process``), the graph's
    store (``store``), or indexed from the files now (``built``)."""

    entry: CachedIndex
    source: Source


def fingerprint(root: str | Path) -> str:
    """SHA-256 hex over the sorted (path, SHA-256 of bytes) of the repository's ``.py``/``.sql``
    files: reads every file but parses none, so it is cheap beside indexing. Raises
    ``RepositoryNotFound``/``ArchiveError`` as :func:`iter_source_files` does."""
    digest = hashlib.sha256()
    for source in iter_source_files(root):  # in path order for a directory or zip, archive order for a tar
        body = b"" if source.skip_reason else source.read()
        digest.update(f"{source.path}\0{hashlib.sha256(body).hexdigest()}\n".encode())
    return digest.hexdigest()


class IndexCache:
    """Prepared indexes by (resolved root, fingerprint, languages), at most ``max_entries``, each
    reused for ``ttl_seconds`` after it was built or read from a store (given per call: agents may
    differ). Thread-safe; two branches asking for the same missing index build (or read) it once."""

    def __init__(self, max_entries: int = MAX_CACHED_INDEXES, clock: Callable[[], float] = time.monotonic):
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[tuple, CachedIndex] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[tuple, threading.Lock] = {}
        self.builds = 0  # how many indexes were built (not cached, not in a store): what a hit saves

    def ensure(self, root: str | Path, languages: list[str] | None, ttl_seconds: float = INDEX_TTL_SECONDS,
               store: BaseStore | None = None) -> CachedIndex:
        """The index of ``root`` as its files are now (:meth:`lookup`'s entry)."""
        return self.lookup(root, languages, ttl_seconds, store).entry

    def lookup(self, root: str | Path, languages: list[str] | None, ttl_seconds: float = INDEX_TTL_SECONDS,
               store: BaseStore | None = None) -> Lookup:
        """The index of ``root`` as its files are now: cached if fresh, else from ``store`` when it
        holds it, else built (and written to ``store``, entries expiring after ``ttl_seconds``).
        Raises ``RepositoryNotFound``/``ArchiveError`` for a path that is no repository, ValueError
        for an unknown language, and what the store raises."""
        return self._get(root, fingerprint(root), languages, ttl_seconds, store, verified=True)

    def get(
        self, root: str | Path, expected: str, languages: list[str] | None, ttl_seconds: float = INDEX_TTL_SECONDS,
        store: BaseStore | None = None,
    ) -> CachedIndex:
        """The index of ``root`` at fingerprint ``expected`` (from :meth:`ensure`): cached if
        fresh, else from ``store`` when it holds it, else rebuilt. Raises :class:`RepositoryChanged`
        when a rebuild finds other files, and what the store raises."""
        return self._get(root, expected, languages, ttl_seconds, store, verified=False).entry

    def of(self, key: dict, store: BaseStore | None = None) -> CachedIndex:
        """The index named by a graph state's ``index`` key (``{"root", "fingerprint",
        "languages", "ttl_seconds"}``, as :meth:`get`)."""
        return self.get(key["root"], key["fingerprint"], key["languages"], key["ttl_seconds"], store)

    def _get(self, root, expected: str, languages, ttl_seconds: float, store: BaseStore | None, *,
             verified: bool) -> Lookup:
        key = (str(Path(root).resolve()), expected, tuple(sorted(languages)) if languages is not None else None)
        with self._lock:
            build_lock = self._building.setdefault(key, threading.Lock())
        with build_lock:
            found = self._fresh(key, ttl_seconds)
            if found is not None:
                return Lookup(found, "process")
            kept = set(key[2]) if key[2] else None
            stored = index_store.load_index(store, expected, key[2]) if store is not None else None
            if stored is not None:
                # the entry is the index of exactly the files fingerprinted: no need to read them
                entry = CachedIndex(key[0], expected, key[2], MapperIndex(stored.chunks, languages=kept),
                                    stored.content_hash, self._clock())
                source: Source = "store"
            else:
                if not verified and fingerprint(root) != expected:
                    raise RepositoryChanged(f"repository {key[0]} changed while it was being mapped; run the job again")
                code = index_repository(root)
                entry = CachedIndex(key[0], expected, key[2], MapperIndex(code, languages=kept), code.content_hash,
                                    self._clock())
                if store is not None:
                    index_store.save_index(store, expected, key[2], entry.index.chunks, code.content_hash,
                                           code.skipped, ttl_seconds)
                source = "built"
            with self._lock:
                self.builds += source == "built"
                self._entries[key] = entry
                self._entries.move_to_end(key)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
                self._building.pop(key, None)
            return Lookup(entry, source)

    def _fresh(self, key: tuple, ttl_seconds: float) -> CachedIndex | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self._clock() - entry.built_at >= ttl_seconds:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry

    def clear(self) -> None:
        """Forget every index."""
        with self._lock:
            self._entries.clear()


INDEX_CACHE = IndexCache()
"""The process's cache, shared by every mapping job it runs."""
