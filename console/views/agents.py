"""Agents page: every agent, its versions with lifecycle status (and why a version failed, was
rejected, expired, rolled back or superseded), artifact hash, traffic weights, and what changed
between two versions (spec and artifact files)."""

import streamlit as st

from activities.artifact_format import ArtifactError
from activities.artifact_store import ArtifactNotFound
from console import data
from console.ui import run_page


def body() -> None:
    """The Agents page: agents, their versions with status and reason, and traffic weights."""
    st.title("Agents")
    agents = data.agents_frame()
    if agents.empty:
        st.info("No agents yet. Create one on the **Create agent** page, or submit a spec with "
                "`shipway agent submit <spec.yaml>`, to start an agent's lifecycle.")
        return
    st.dataframe(agents, hide_index=True, key="agents_table")

    st.subheader("Versions")
    st.dataframe(
        data.versions_frame(),
        hide_index=True,
        key="versions_table",
        column_config={
            "status_detail": st.column_config.TextColumn("reason", help="Why the version failed, was rejected, expired, "
                                                                   "rolled back or superseded"),
            "submitted_by": st.column_config.TextColumn("submitted by"),
            "artifact_sha256": st.column_config.TextColumn("artifact SHA-256", help="First 12 hex digits of the scaffolded artifact's SHA-256"),
            "workflow": st.column_config.LinkColumn("lifecycle workflow", display_text="open in Temporal UI"),
            "updated_at": st.column_config.DatetimeColumn("updated (UTC)"),
        },
    )

    st.subheader("Traffic weights")
    weights = data.traffic_frame()
    if weights.empty:
        st.info("No traffic is routed yet: no version has been deployed.")
    else:
        st.dataframe(
            weights,
            hide_index=True,
            key="traffic_table",
            column_config={"weight_pct": st.column_config.ProgressColumn("weight (%)", min_value=0, max_value=100, format="%.0f%%")},
        )

    _compare(agents["name"].tolist())


def _compare(agent_names: list[str]) -> None:
    """Pick an agent and two of its versions; show the spec diff and the changed artifact files."""
    st.subheader("Compare versions")
    agent_col, old_col, new_col = st.columns(3)
    agent = agent_col.selectbox("Agent", agent_names, key="diff_agent")
    versions = data.version_numbers(agent)
    if len(versions) < 2:
        st.info(f"{agent} has only one version: nothing to compare yet.")
        return
    # versions are newest first: compare the previous version with the newest by default
    old = old_col.selectbox("From version", versions, index=1, format_func=lambda v: f"v{v}", key=f"diff_old:{agent}")
    new = new_col.selectbox("To version", versions, index=0, format_func=lambda v: f"v{v}", key=f"diff_new:{agent}")
    if old == new:
        st.info("Pick two different versions.")
        return
    try:
        result = data.compare_versions(agent, old, new)
    except ArtifactNotFound as exc:
        st.error(f"Cannot compare v{old} and v{new}: an artifact is missing from the artifact store: {exc}")
        return
    except ArtifactError as exc:
        st.error(f"Cannot compare v{old} and v{new}: an artifact is not a readable archive: {exc}")
        return
    except LookupError as exc:  # the version was deleted since the list was read
        st.error(f"Cannot compare v{old} and v{new}: {exc}")
        return
    for version, status in result.unbuilt:
        st.info(f"v{version} has no artifact yet (status: {status}): only the specs are compared.")
    if result.diff.unchanged:
        st.success(f"v{old} and v{new} have the same spec" + ("" if result.unbuilt else " and the same files") + ".")
        return
    st.markdown("**Spec**")
    if result.diff.spec_diff:
        st.code(result.diff.spec_diff, language="diff")
    else:
        st.caption("The specs are the same.")
    if result.unbuilt:
        return
    st.markdown(f"**Files** ({len(result.diff.files)} changed; the manifest is left out)" if result.diff.files else
                "**Files**: the same in both artifacts (the manifest is left out).")
    for change in result.diff.files:
        st.markdown(f"`{change.path}`: {change.change}" + (f" ({change.note})" if change.note else ""))
        if change.diff:
            st.code(change.diff, language="diff")


run_page(body)
