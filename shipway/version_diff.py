"""What changed between two versions of an agent: the spec, and the artifact file by file, so an
approver sees exactly what a new version would run."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import yaml

from activities.artifact_format import MANIFEST, read_files


@dataclass(frozen=True)
class FileChange:
    """One file that differs: ``added``, ``removed`` or ``changed``, with a unified diff of its text
    (empty for a binary file, where ``note`` says so)."""

    path: str
    change: str
    diff: str = ""
    note: str = ""


@dataclass(frozen=True)
class VersionDiff:
    """The spec diff (unified, of the YAML) and the changed files (the manifest left out: its hashes
    and test report change with every file)."""

    spec_diff: str
    files: list[FileChange]

    @property
    def unchanged(self) -> bool:
        """True when neither the spec nor any file differs."""
        return not self.spec_diff and not self.files


def _text(data: bytes) -> list[str] | None:
    try:
        return data.decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return None


def _unified(a: list[str], b: list[str], label_a: str, label_b: str) -> str:
    return "".join(difflib.unified_diff(a, b, fromfile=label_a, tofile=label_b))


def diff_versions(spec_a: dict, spec_b: dict, artifact_a: bytes | None, artifact_b: bytes | None,
                  label_a: str = "a", label_b: str = "b") -> VersionDiff:
    """Compare two versions.

    Args:
        spec_a, spec_b: the versions' specs.
        artifact_a, artifact_b: their artifacts' bytes (None for a version not built yet: all its files count as absent).
        label_a, label_b: how the versions are named in the diff headers (e.g. ``v1``, ``v2``).

    Raises:
        activities.artifact_format.ArtifactError: an artifact is not a readable archive.
    """
    spec_diff = _unified(yaml.safe_dump(spec_a, sort_keys=True).splitlines(keepends=True),
                         yaml.safe_dump(spec_b, sort_keys=True).splitlines(keepends=True), f"{label_a}/spec", f"{label_b}/spec")
    files_a = read_files(artifact_a) if artifact_a else {}
    files_b = read_files(artifact_b) if artifact_b else {}
    changes = []
    for path in sorted((set(files_a) | set(files_b)) - {MANIFEST}):
        old, new = files_a.get(path), files_b.get(path)
        if old == new:
            continue
        change = "added" if old is None else "removed" if new is None else "changed"
        old_text, new_text = _text(old or b""), _text(new or b"")
        if old_text is None or new_text is None:
            changes.append(FileChange(path, change, note="binary file"))
        else:
            changes.append(FileChange(path, change, _unified(old_text, new_text, f"{label_a}/{path}", f"{label_b}/{path}")))
    return VersionDiff(spec_diff=spec_diff, files=changes)
