"""Submitting a LangGraph project: check it where the user is (fast, naming each problem), put its
source archive in the artifact store, and make the spec the lifecycle validates (``shipway.yaml``'s
governance fields plus where the code is)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from activities.artifact_format import ArtifactError, pack, unpack
from activities.artifact_store import ArtifactStore
from activities.langgraph_project import CONFIG_FILE, Project, ProjectError, read_project

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")


def is_project(path: Path) -> bool:
    """Whether ``path`` is a LangGraph project: a folder with ``langgraph.json``, or a ``.tar.gz``."""
    return (path.is_dir() and (path / CONFIG_FILE).exists()) or path.name.endswith(ARCHIVE_SUFFIXES)


def upload_project(store: ArtifactStore, path: Path, graph: str | None = None) -> tuple[str, Project]:
    """Check the project at ``path`` (a folder or a ``.tar.gz`` of one) and store its source archive.

    Returns:
        ``(archive SHA-256, the parsed project)``.

    Raises:
        ProjectError: the layout is broken or the archive unreadable or unsafe (naming each problem).
    """
    if path.is_dir():
        project = read_project(path, graph)
        return store.put(pack(path), "source"), project
    with tempfile.TemporaryDirectory(prefix="shipway-project-") as tmp:
        try:
            unpack(path.read_bytes(), Path(tmp))
        except (ArtifactError, OSError) as exc:
            raise ProjectError([(path.name, str(exc))]) from exc
        root = Path(tmp)
        if not (root / CONFIG_FILE).exists() and len(entries := list(root.iterdir())) == 1 and entries[0].is_dir():
            root = entries[0]  # an archive of the project's folder rather than of its contents
        project = read_project(root, graph)
        return store.put(pack(root), "source"), project


def project_spec(project: Project, archive_sha256: str) -> dict:
    """The raw spec of a project: ``shipway.yaml`` and ``source`` (the archive and the chosen graph).
    A ``name`` missing from ``shipway.yaml`` defaults to the graph's name in DNS-label form."""
    spec = dict(project.governance)
    spec.setdefault("name", project.graph_name.replace("_", "-").lower())
    spec["source"] = {"archive_sha256": archive_sha256, "graph": project.graph_name}
    return spec
