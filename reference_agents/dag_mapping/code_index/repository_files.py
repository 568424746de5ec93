"""The source files of a repository given as a directory, a ``.zip`` or a tar archive
(``.tar``, ``.tar.gz``...), read in memory: nothing is extracted to disk."""

from __future__ import annotations

import functools
import os
import stat
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

SOURCE_SUFFIXES = frozenset({".py", ".sql"})
# Directories never holding the repository's own code.
_SKIPPED_DIRECTORIES = frozenset({"__pycache__", "node_modules"})


class RepositoryNotFound(ValueError):
    """The repository path does not exist; the message names it."""


class ArchiveError(ValueError):
    """The path is a file but not a readable zip/tar archive, or the archive has a member whose
    path would leave the repository (absolute, or with ``..``); the message names both."""


@dataclass(frozen=True)
class SourceFile:
    """One ``.py``/``.sql`` file: ``path`` repository-relative posix, ``size`` in bytes, ``read()``
    its bytes (valid while the iteration that yielded it is open); ``skip_reason`` set for a file
    that is not read (a symbolic link, never followed)."""

    path: str
    size: int
    read: Callable[[], bytes]
    skip_reason: str | None = None


def iter_source_files(root: str | Path) -> Iterator[SourceFile]:
    """The ``.py`` and ``.sql`` files under ``root``: a directory's and a zip's in path order, a
    tar's in archive order.

    A directory is walked without following symbolic links, skipping hidden directories
    (``.git``, ``.venv``...), ``__pycache__`` and ``node_modules``. In an archive, a single
    top-level directory all members share (``repo-main/`` of a GitHub download) is stripped from
    the paths. Raises :class:`RepositoryNotFound` if ``root`` does not exist, :class:`ArchiveError`
    for a file that is no zip/tar archive or an archive member with an unsafe path."""
    root = Path(root)
    if root.is_dir():
        yield from _directory_files(root)
    elif root.is_file():
        if zipfile.is_zipfile(root):
            yield from _zip_files(root)
        elif tarfile.is_tarfile(root):
            yield from _tar_files(root)
        else:
            raise ArchiveError(f"{root} is neither a directory nor a .zip or tar (.tar, .tar.gz) archive")
    else:
        raise RepositoryNotFound(f"repository not found: {root}")


def _is_source(path: str) -> bool:
    return PurePosixPath(path).suffix in SOURCE_SUFFIXES


def _directory_files(root: Path) -> Iterator[SourceFile]:
    found = []
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = [
            name for name in subdirectories if not name.startswith(".") and name not in _SKIPPED_DIRECTORIES
        ]
        for name in files:
            full = Path(directory, name)
            relative = full.relative_to(root).as_posix()
            if not _is_source(relative):
                continue
            if full.is_symlink():
                found.append(SourceFile(relative, 0, bytes, "symbolic link"))
            else:
                found.append(SourceFile(relative, full.stat().st_size, full.read_bytes))
    yield from sorted(found, key=lambda source: source.path)


def _member_path(archive: Path, name: str) -> str:
    """``name`` normalised (``./a/b`` -> ``a/b``); raises :class:`ArchiveError` if unsafe."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise ArchiveError(
            f"{archive}: member {name!r} has a path outside the repository; refusing the archive"
        )
    return PurePosixPath(*[part for part in path.parts if part != "."]).as_posix()


def _strip_common_directory(paths: list[str]) -> int:
    """How many leading characters to drop: the single top directory every path is under, if any."""
    tops = {path.split("/", 1)[0] for path in paths}
    if len(tops) == 1 and all("/" in path for path in paths):
        return len(tops.pop()) + 1
    return 0


def _zip_files(root: Path) -> Iterator[SourceFile]:
    try:
        with zipfile.ZipFile(root) as archive:
            members = [(info, _member_path(root, info.filename)) for info in archive.infolist()]
            files = [(info, path) for info, path in members if not info.is_dir()]
            cut = _strip_common_directory([path for _, path in files])
            for info, path in sorted(files, key=lambda item: item[1]):
                if not _is_source(path):
                    continue
                reason = "symbolic link" if stat.S_ISLNK(info.external_attr >> 16) else None
                yield SourceFile(path[cut:], info.file_size, functools.partial(archive.read, info), reason)
    except zipfile.BadZipFile as error:
        raise ArchiveError(f"{root}: unreadable zip archive: {error}") from error


def _tar_files(root: Path) -> Iterator[SourceFile]:
    try:
        with tarfile.open(root, "r:*") as archive:
            members = [(member, _member_path(root, member.name)) for member in archive.getmembers()]
            files = [(member, path) for member, path in members if not member.isdir()]
            cut = _strip_common_directory([path for _, path in files])
            for member, path in files:  # archive order: a compressed tar reads forward only cheaply
                if not _is_source(path) or not (member.isfile() or member.issym() or member.islnk()):
                    continue
                if member.isfile():
                    yield SourceFile(path[cut:], member.size, functools.partial(_read_member, archive, member))
                else:
                    yield SourceFile(path[cut:], 0, bytes, "link")
    except tarfile.TarError as error:
        raise ArchiveError(f"{root}: unreadable tar archive: {error}") from error


def _read_member(archive: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    return archive.extractfile(member).read()
