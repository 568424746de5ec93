"""Artifacts: reproducible archives, safe unpacking, integrity, isolated imports, LangGraph project
parsing and requirement checks, and version diffs."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from activities.artifact_format import (
    ArtifactError,
    IntegrityError,
    Manifest,
    TestReport,
    file_hashes,
    manifest_of,
    pack,
    read_files,
    sha256_hex,
    unpack,
    verify,
)
from activities.artifact_loader import ArtifactCache
from activities.langgraph_project import ProjectError, read_project, unmet_requirements
from shipway.version_diff import diff_versions


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_pack_is_reproducible_and_leaves_caches_out(tmp_path):
    a = _tree(tmp_path / "a", {"pkg/__init__.py": "", "pkg/m.py": "X = 1\n", "pkg/__pycache__/m.pyc": "junk"})
    b = _tree(tmp_path / "b", {"pkg/m.py": "X = 1\n", "pkg/__init__.py": ""})
    os.utime(b / "pkg" / "m.py", (0, 12345))
    assert pack(a) == pack(b)
    assert set(read_files(pack(a))) == {"pkg/__init__.py", "pkg/m.py"}
    assert pack(a) != pack(_tree(tmp_path / "c", {"pkg/__init__.py": "", "pkg/m.py": "X = 2\n"}))


def _archive(entries: list[tarfile.TarInfo]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for info in entries:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.isfile() else None)
    return buf.getvalue()


@pytest.mark.parametrize("name, kind", [("/etc/evil", tarfile.REGTYPE), ("../evil.py", tarfile.REGTYPE),
                                        ("ok/../../evil", tarfile.REGTYPE), ("link", tarfile.SYMTYPE)])
def test_unsafe_archive_entries_are_refused(tmp_path, name, kind):
    info = tarfile.TarInfo(name)
    info.type, info.size = kind, 1 if kind == tarfile.REGTYPE else 0
    if kind == tarfile.SYMTYPE:
        info.linkname = "/etc/passwd"
    with pytest.raises(ArtifactError, match="unsafe"):
        unpack(_archive([info]), tmp_path / "out")
    assert not (tmp_path / "evil.py").exists()


def test_not_an_archive_is_a_clear_error(tmp_path):
    with pytest.raises(ArtifactError, match="not a readable"):
        unpack(b"not a tarball", tmp_path)


def test_verify_names_both_hashes():
    with pytest.raises(IntegrityError) as exc:
        verify(b"forged", "a" * 64)
    assert sha256_hex(b"forged") in str(exc.value) and "a" * 64 in str(exc.value)
    verify(b"x", sha256_hex(b"x"))


def _artifact(root: Path, label: str) -> bytes:
    """A packed artifact whose module ``pkg.state`` keeps module-level state and its own label."""
    _tree(root, {"pkg/__init__.py": "", "pkg/state.py": f"CALLS = []\nLABEL = {label!r}\n",
                 "pkg/graph.py": "from pkg.state import CALLS, LABEL\n\ndef run():\n    from pkg import state\n"
                                 "    CALLS.append(1)\n    return LABEL, len(state.CALLS)\n"})
    manifest = Manifest(name="x", version=1, source="langgraph", graph="pkg/graph.py:run", graph_name="x", python_paths=["."],
                        files=file_hashes(root), tests=TestReport(0, "1 passed"))
    (root / "shipway-manifest.json").write_text(manifest.to_json())
    return pack(root)


def test_manifest_round_trips_through_the_archive(tmp_path):
    data = _artifact(tmp_path / "a", "one")
    m = manifest_of(data)
    assert m.graph == "pkg/graph.py:run" and m.tests == TestReport(0, "1 passed") and "pkg/state.py" in m.files
    with pytest.raises(ArtifactError, match="manifest"):
        Manifest.from_json("{\"name\": 1}")


def test_two_artifacts_with_the_same_module_names_never_share_state(tmp_path):
    blobs = {}
    for label in ("one", "two"):
        data = _artifact(tmp_path / label, label)
        blobs[sha256_hex(data)] = data
    cache = ArtifactCache(tmp_path / "cache", blobs.__getitem__)
    one, two = (cache.load(sha) for sha in blobs)
    run_one, run_two = one.attr("pkg/graph.py:run"), two.attr("pkg/graph.py:run")
    assert [run_one(), run_two(), run_one(), run_two()] == [("one", 1), ("two", 1), ("one", 2), ("two", 2)]
    assert run_one.__module__ != run_two.__module__
    assert cache.load(next(iter(blobs))) is one  # loaded once


def test_a_tampered_artifact_is_never_imported(tmp_path):
    data = _artifact(tmp_path / "a", "one")
    sha = sha256_hex(data)
    with pytest.raises(IntegrityError):
        ArtifactCache(tmp_path / "cache", lambda _: data + b"\0").load(sha)
    assert not (tmp_path / "cache" / sha).exists()
    ArtifactCache(tmp_path / "cache", lambda _: data).load(sha)
    (tmp_path / "cache" / sha / "pkg" / "state.py").write_text("LABEL = 'forged'\nCALLS = []\n")
    with pytest.raises(IntegrityError, match="differ from its manifest"):
        ArtifactCache(tmp_path / "cache", lambda _: data).load(sha)


def _project(root: Path, config: dict | str, governance: str = "name: x\nowner: o\n", **files: str) -> Path:
    _tree(root, {"agent/__init__.py": "", "agent/graph.py": "graph = None\n", **files})
    (root / "langgraph.json").write_text(config if isinstance(config, str) else json.dumps(config))
    if governance is not None:
        (root / "shipway.yaml").write_text(governance)
    return root


def test_a_project_is_read_with_the_langgraph_cli_meaning_of_each_field(tmp_path):
    root = _project(tmp_path, {"dependencies": [".", "./lib", "pandas>=2"], "graphs": {"a": "./agent/graph.py:graph"},
                               "env": ".env"},
                    **{".env": "A=1\nB=two\n", "lib/pyproject.toml": "[project]\nname='lib'\ndependencies=['numpy>=1.20']\n",
                       "lib/src/libpkg/__init__.py": "", "requirements.txt": "scipy  # comment\n"})
    p = read_project(root)
    assert (p.graph_name, p.graph) == ("a", "agent/graph.py:graph")
    assert p.python_paths == [".", "lib/src"]
    assert p.requirements == ["scipy", "numpy>=1.20", "pandas>=2"]
    assert p.env == {"A": "1", "B": "two"} and p.governance == {"name": "x", "owner": "o"}
    absent = read_project(_project(tmp_path / "b", {"dependencies": ["."], "graphs": {"a": "./agent/graph.py:graph"},
                                                    "env": ".env.missing"}))
    assert absent.env == {}


@pytest.mark.parametrize("config, governance, field, message", [
    ("{not json", "name: x\n", "langgraph.json", "not valid JSON"),
    ({"dependencies": ["."]}, "name: x\n", "langgraph.json graphs", "must map"),
    ({"graphs": {"a": "./agent/graph.py:graph", "b": "./agent/graph.py:graph"}}, "name: x\n", "graph", "choose one with --graph"),
    ({"graphs": {"a": "agent/graph.py"}}, "name: x\n", "langgraph.json graphs.a", "is not './path/to/file.py:attr'"),
    ({"graphs": {"a": "./nope.py:graph"}}, "name: x\n", "langgraph.json graphs.a", "does not exist"),
    ({"graphs": {"a": "../outside.py:graph"}}, "name: x\n", "langgraph.json graphs.a", "inside the project"),
    ({"graphs": {"a": "./agent/graph.py:graph"}, "dependencies": ["./missing"]}, "name: x\n", "langgraph.json dependencies", "not a folder"),
    ({"graphs": {"a": "./agent/graph.py:graph"}, "env": ["A"]}, "name: x\n", "langgraph.json env", "mapping"),
    ({"graphs": {"a": "./agent/graph.py:graph"}}, None, "shipway.yaml", "missing"),
    ({"graphs": {"a": "./agent/graph.py:graph"}}, "- a list\n", "shipway.yaml", "mapping"),
])
def test_a_broken_project_names_the_field(tmp_path, config, governance, field, message):
    with pytest.raises(ProjectError) as exc:
        read_project(_project(tmp_path, config, governance))
    assert any(f == field and message in m for f, m in exc.value.errors), exc.value.errors


def test_unknown_graph_names_the_ones_there_are(tmp_path):
    with pytest.raises(ProjectError, match="it has a"):
        read_project(_project(tmp_path, {"graphs": {"a": "./agent/graph.py:graph"}}), graph="b")


def test_requirements_are_checked_against_this_environment():
    problems = unmet_requirements(["pandas>=1", "pandas>=999", "shipway-no-such-package", "numpy; python_version < '3'",
                                   "not a requirement!!"])
    assert problems[0].startswith("pandas>=999: ") and "is installed" in problems[0]
    assert problems[1] == "shipway-no-such-package: not installed"
    assert problems[2].startswith("not a requirement!!: not a valid requirement")
    assert len(problems) == 3  # pandas>=1 is met; the numpy marker does not apply here


def test_diff_shows_spec_and_file_changes(tmp_path):
    a = pack(_tree(tmp_path / "a", {"m.py": "X = 1\n", "gone.py": "", "data.bin": "\xff"}))
    b_root = _tree(tmp_path / "b", {"m.py": "X = 2\n", "new.py": "Y = 1\n"})
    (b_root / "data.bin").write_bytes(b"\xff\xfe\x00")
    d = diff_versions({"model": None}, {"model": "openai:gpt-4o-mini"}, a, pack(b_root), "v1", "v2")
    assert "-model: null" in d.spec_diff and "+model: openai:gpt-4o-mini" in d.spec_diff
    changes = {c.path: c for c in d.files}
    assert {p: c.change for p, c in changes.items()} == {"m.py": "changed", "gone.py": "removed", "new.py": "added",
                                                         "data.bin": "changed"}
    assert "-X = 1" in changes["m.py"].diff and "+X = 2" in changes["m.py"].diff
    assert changes["data.bin"].note == "binary file"
    assert diff_versions({}, {}, a, a).unchanged
