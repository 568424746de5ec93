"""Compare versions on the Agents page: the spec diff and the artifact's changed files, read from the
real artifact store, for versions seeded with archives packed from two editions of a LangGraph project."""

from __future__ import annotations

from pathlib import Path

from activities.artifact_format import pack
from activities.artifact_store import store_from_settings
from shipway.db.models import Agent, AgentVersion, TrafficWeight
from tests.support.lifecycle import OWNER
from tests.support.projects import write_project
from workflows.statuses import VersionStatus

NAME = "loan-desk"
SPEC = {"name": NAME, "owner": OWNER, "description": "A two-node loan graph that asks a person about large amounts.",
        "source": {"archive_sha256": "0" * 64, "graph": "loan"}, "model": None, "data_classification": "internal"}


def _edition(folder: Path, label: str, extra: dict[str, bytes]) -> bytes:
    """The archive of the test project with ``label`` and the ``extra`` files."""
    write_project(folder, label=label, name=NAME)
    for path, content in extra.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(content)
    return pack(folder)


def _seed_versions(seed, console_env, tmp_path) -> None:
    store = store_from_settings(console_env)
    one = store.put(_edition(tmp_path / "one", "one", {"notes.md": b"first edition\n", "assets/logo.png": b"\x89PNG\r\n\x1a\n\x00\xff"}),
                    "artifact")
    two = store.put(_edition(tmp_path / "two", "two", {"docs/usage.md": b"# Usage\n", "assets/logo.png": b"\x89PNG\r\n\x1a\n\x01\xfe"}),
                    "artifact")
    seed(Agent(name=NAME, owner=OWNER, template="langgraph", description=SPEC["description"], live_version=2))
    seed(
        AgentVersion(agent_name=NAME, version=1, spec=SPEC, status=VersionStatus.SUPERSEDED, artifact_sha256=one,
                     workflow_id=f"agent:{NAME}:v1"),
        AgentVersion(agent_name=NAME, version=2, spec={**SPEC, "model": "openai:gpt-4o-mini"}, status=VersionStatus.LIVE,
                     artifact_sha256=two, workflow_id=f"agent:{NAME}:v2"),
        AgentVersion(agent_name=NAME, version=3, spec={**SPEC, "data_classification": "confidential"},
                     status=VersionStatus.SCAFFOLDING, workflow_id=f"agent:{NAME}:v3"),
        AgentVersion(agent_name=NAME, version=4, spec=SPEC, status=VersionStatus.SCAFFOLDED, artifact_sha256="f" * 64,
                     workflow_id=f"agent:{NAME}:v4"),
        TrafficWeight(agent_name=NAME, version=2, weight_pct=100.0),
    )


def test_compare_versions_shows_the_spec_diff_and_each_changed_file(app, seed, console_env, tmp_path):
    _seed_versions(seed, console_env, tmp_path)
    at = app("views/agents.py")
    assert at.selectbox(key="diff_agent").value == NAME

    # the newest two by default; v3 is not built yet
    assert (at.selectbox(key=f"diff_old:{NAME}").value, at.selectbox(key=f"diff_new:{NAME}").value) == (3, 4)
    assert [i.value for i in at.info] == ["v3 has no artifact yet (status: scaffolding): only the specs are compared."]
    [spec_diff] = at.code
    assert spec_diff.language == "diff"
    assert "-data_classification: confidential\n+data_classification: internal\n" in spec_diff.value

    at.selectbox(key=f"diff_old:{NAME}").set_value(2).run()  # v4's artifact is gone from the store
    [error] = at.error
    assert error.value.startswith(f"Cannot compare v2 and v4: an artifact is missing from the artifact store: no artifact {'f' * 64}")
    assert not at.code

    at.selectbox(key=f"diff_old:{NAME}").set_value(1).run()
    at.selectbox(key=f"diff_new:{NAME}").set_value(2).run()
    assert not at.error and not at.info
    spec_diff, usage_diff, state_diff, notes_diff = at.code  # the files in path order; the binary one has no text diff
    assert spec_diff.value.startswith("--- v1/spec\n+++ v2/spec\n") and "-model: null\n+model: openai:gpt-4o-mini\n" in spec_diff.value
    assert state_diff.language == "diff" and state_diff.value.startswith("--- v1/loan_agent/state.py\n+++ v2/loan_agent/state.py\n")
    assert "-LABEL = 'one'\n+LABEL = 'two'\n" in state_diff.value
    assert usage_diff.value.endswith("@@ -0,0 +1 @@\n+# Usage") and notes_diff.value.endswith("@@ -1 +0,0 @@\n-first edition")
    files = [m.value for m in at.markdown if m.value.startswith("`")]
    # graph.py and the rest are the same in both editions: not listed
    assert files == ["`assets/logo.png`: changed (binary file)", "`docs/usage.md`: added", "`loan_agent/state.py`: changed",
                     "`notes.md`: removed"]
    assert "**Files** (4 changed; the manifest is left out)" in [m.value for m in at.markdown]


def test_an_agent_with_one_version_has_nothing_to_compare(app, seed):
    seed(Agent(name=NAME, owner=OWNER, template="langgraph", description=SPEC["description"]))
    seed(AgentVersion(agent_name=NAME, version=1, spec=SPEC, status=VersionStatus.VALIDATING, workflow_id=f"agent:{NAME}:v1"))
    at = app("views/agents.py")
    assert f"{NAME} has only one version: nothing to compare yet." in [i.value for i in at.info]
    assert not at.code
