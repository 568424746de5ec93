"""The artifact: one reproducible ``.tar.gz`` per agent version, identified by its SHA-256.

An artifact holds the version's code (a rendered template with the agent's own source, or the
user's LangGraph project) and ``shipway-manifest.json`` (:class:`Manifest`): every other file with
its SHA-256, the graph's entry point, the Python paths and requirements, the Shipway and LangGraph
versions it was tested with, the test report and the run input's JSON Schema. Archives are built
with sorted entries and zeroed times and owners, so equal trees give equal bytes and hashes.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

MANIFEST = "shipway-manifest.json"
FORMAT_VERSION = 1
# Never packaged: caches and VCS metadata a project folder may carry.
IGNORED_PARTS = frozenset({"__pycache__", ".git", ".pytest_cache", ".venv", ".mypy_cache", ".ruff_cache", "node_modules"})


class ArtifactError(ValueError):
    """An archive is not a valid artifact (or project archive): unsafe paths, missing manifest, bad hash."""


class IntegrityError(ArtifactError):
    """The bytes do not hash to the SHA-256 they are stored under, or an unpacked file was changed."""


@dataclass
class TestReport:
    """How the artifact's own tests went: pytest's exit code and its summary without timings
    (``"5 passed"``), so a rebuild of the same tree gives the same archive."""

    __test__ = False  # not a pytest test class, despite its name
    exit_code: int
    summary: str


@dataclass
class Manifest:
    """``shipway-manifest.json``.

    Attributes:
        name, version: the agent version the artifact was built for.
        source: ``template`` (a built-in or ``module:ATTR`` template) or ``langgraph`` (a user's project).
        graph: entry point ``path/to/file.py:attr`` (relative to the archive root): a ``StateGraph``, a
            compiled graph, or a factory taking a ``RunnableConfig`` and returning either.
        graph_name: the name in ``langgraph.json``'s ``graphs``.
        python_paths: folders (relative) whose modules the artifact's code imports as top-level names.
        output: optional ``path.py:attr``, ``final_state -> dict`` run output; None = the final state.
        input_model: optional ``path.py:attr``, a pydantic model validating run input in the worker.
        output_checks: optional ``path.py:attr``, a list of ``output -> [problems]`` compliance checks.
        requirements: PEP 508 requirement strings the project declares (checked at build time).
        env: environment variables the project declares (``langgraph.json`` ``env``).
        model: ``provider:model`` of the spec, or None.
        input_schema: JSON Schema of a run's input; output_schema: of its output (None when free-form).
        files: ``{path: sha256}`` of every other file in the archive.
        tests: the report of the artifact's own tests.
        shipway_version, langgraph_version, python_version: what it was built and tested with.
    """

    name: str
    version: int
    source: str
    graph: str
    graph_name: str
    python_paths: list[str]
    output: str | None = None
    input_model: str | None = None
    output_checks: str | None = None
    requirements: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    model: str | None = None
    input_schema: dict[str, Any] = field(default_factory=dict)
    output_schema: dict[str, Any] | None = None
    files: dict[str, str] = field(default_factory=dict)
    tests: TestReport | None = None
    shipway_version: str = ""
    langgraph_version: str = ""
    python_version: str = ""
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        """Canonical JSON (sorted keys), as stored in the archive."""
        return json.dumps(asdict(self), sort_keys=True, indent=1)

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        """Parse a manifest.

        Raises:
            ArtifactError: not JSON, or fields missing or unknown.
        """
        try:
            raw = json.loads(text)
            tests = raw.pop("tests", None)
            return cls(**raw, tests=TestReport(**tests) if tests else None)
        except (ValueError, TypeError) as exc:
            raise ArtifactError(f"{MANIFEST} is not a valid manifest: {exc}") from exc


def sha256_hex(data: bytes) -> str:
    """SHA-256 of ``data`` as 64 hex digits."""
    return hashlib.sha256(data).hexdigest()


def tree_files(root: Path) -> list[Path]:
    """Files under ``root`` that belong in an archive (relative, sorted; caches and VCS folders left out)."""
    return sorted(p.relative_to(root) for p in root.rglob("*")
                  if p.is_file() and not IGNORED_PARTS.intersection(p.relative_to(root).parts))


def file_hashes(root: Path) -> dict[str, str]:
    """``{relative posix path: sha256}`` of the archive files under ``root`` (the manifest excluded)."""
    return {p.as_posix(): sha256_hex((root / p).read_bytes()) for p in tree_files(root) if p.as_posix() != MANIFEST}


def pack(root: Path) -> bytes:
    """``.tar.gz`` bytes of the files under ``root`` with sorted entries, zeroed times and owners and
    no gzip timestamp, so equal trees give equal bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for rel in tree_files(root):
            info = tar.gettarinfo(str(root / rel), arcname=rel.as_posix())
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            info.mode = 0o644
            with (root / rel).open("rb") as fh:
                tar.addfile(info, fh)
    data = bytearray(buf.getvalue())
    data[4:8] = b"\0\0\0\0"  # gzip header mtime
    return bytes(data)


def _safe_members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    members = []
    for m in tar.getmembers():
        path = PurePosixPath(m.name)
        if path.is_absolute() or ".." in path.parts or not (m.isfile() or m.isdir()):
            raise ArtifactError(f"unsafe archive entry {m.name!r} (absolute, '..', or not a regular file)")
        members.append(m)
    return members


def unpack(data: bytes, dest: Path) -> None:
    """Extract archive ``data`` into ``dest`` (regular files and folders only).

    Raises:
        ArtifactError: not a ``.tar.gz``, or an entry is absolute, climbs out with ``..``, or is a link or device.
    """
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            members = _safe_members(tar)
            tar.extractall(dest, members=members, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArtifactError(f"not a readable .tar.gz archive: {exc}") from exc


def read_files(data: bytes) -> dict[str, bytes]:
    """``{path: content}`` of every file in archive ``data`` (for diffs; nothing touches disk).

    Raises:
        ArtifactError: as :func:`unpack`.
    """
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            return {m.name: tar.extractfile(m).read() for m in _safe_members(tar) if m.isfile()}
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArtifactError(f"not a readable .tar.gz archive: {exc}") from exc


def verify(data: bytes, sha256: str) -> None:
    """Check that ``data`` hashes to ``sha256``.

    Raises:
        IntegrityError: naming both hashes.
    """
    actual = sha256_hex(data)
    if actual != sha256:
        raise IntegrityError(f"artifact bytes hash to {actual}, not to the approved {sha256}")


def manifest_of(data: bytes) -> Manifest:
    """The manifest inside archive ``data``.

    Raises:
        ArtifactError: unreadable archive or no manifest.
    """
    files = read_files(data)
    if MANIFEST not in files:
        raise ArtifactError(f"archive has no {MANIFEST}")
    return Manifest.from_json(files[MANIFEST])
