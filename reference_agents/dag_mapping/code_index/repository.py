"""A repository (directory or archive) -> the chunks of all its Python and SQL files."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from reference_agents.dag_mapping.code_index.model import CodeChunk, file_hash
from reference_agents.dag_mapping.code_index.python_chunks import chunk_python
from reference_agents.dag_mapping.code_index.repository_files import (
    ArchiveError,
    RepositoryNotFound,
    iter_source_files,
)
from reference_agents.dag_mapping.code_index.sql_chunks import chunk_sql

__all__ = ["ArchiveError", "RepositoryIndex", "RepositoryNotFound", "SkippedFile", "index_repository"]

MAX_FILE_BYTES = 1 << 20
"""Files larger than this (1 MiB) are skipped: generated or data files, not query code."""

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SkippedFile:
    """A ``.py``/``.sql`` file left out of the index and why (too large, a link, not UTF-8, not
    parsable)."""

    path: str
    reason: str


@dataclass
class RepositoryIndex:
    """The chunks of every indexed file (ordered by path, then position), the files skipped,
    ``file_hashes`` (path -> :func:`~reference_agents.dag_mapping.code_index.model.file_hash`;
    every file read, parsable or not) and ``content_hash``: SHA-256 hex over the sorted
    (path, file hash) pairs, stable across runs and machines, changed by any edit, addition,
    removal or rename of a file read."""

    root: str
    chunks: list[CodeChunk] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    file_hashes: dict[str, str] = field(default_factory=dict)
    content_hash: str = ""


def index_repository(root: str | Path, sql_dialect: str = "duckdb") -> RepositoryIndex:
    """Index the ``.py`` and ``.sql`` files of ``root``, a directory, ``.zip`` or tar archive
    (``.tar.gz``...; read in memory, see
    :func:`~reference_agents.dag_mapping.code_index.repository_files.iter_source_files`).

    Python files are cut by ``chunk_python``, SQL files by ``chunk_sql`` in ``sql_dialect``.
    Files over :data:`MAX_FILE_BYTES`, links, files not in UTF-8 and files that do not parse are
    skipped, listed in ``skipped`` and logged. Raises :class:`RepositoryNotFound` if ``root`` does
    not exist, :class:`ArchiveError` for a file that is no archive or an archive member whose path
    would leave the repository."""
    index = RepositoryIndex(root=str(root))
    for source_file in iter_source_files(root):
        path = source_file.path
        reason = source_file.skip_reason
        if reason is None and source_file.size > MAX_FILE_BYTES:
            reason = f"larger than {MAX_FILE_BYTES} bytes ({source_file.size})"
        if reason is not None:
            _skip(index, path, reason)
            continue
        raw = source_file.read()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            index.file_hashes[path] = hashlib.sha256(raw).hexdigest()
            _skip(index, path, f"not UTF-8: {error}")
            continue
        index.file_hashes[path] = file_hash(text)
        try:
            if PurePosixPath(path).suffix == ".py":
                index.chunks.extend(chunk_python(path, text))
            else:
                index.chunks.extend(chunk_sql(path, text, sql_dialect))
        except (SyntaxError, ValueError) as error:
            _skip(index, path, f"not parsable: {error}")
    index.chunks.sort(key=lambda chunk: chunk.path)  # stable: positions stay ordered within a file
    index.skipped.sort(key=lambda skipped: skipped.path)
    index.content_hash = _content_hash(index.file_hashes)
    return index


def _skip(index: RepositoryIndex, path: str, reason: str) -> None:
    logger.info("code index: skipping %s: %s", path, reason)
    index.skipped.append(SkippedFile(path, reason))


def _content_hash(file_hashes: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for path in sorted(file_hashes):
        digest.update(f"{path}\0{file_hashes[path]}\n".encode())
    return digest.hexdigest()
