"""Agents page: every agent, its versions with lifecycle status (and why a version failed, was
rejected, expired, rolled back or superseded), artifact hash, and traffic weights."""

import streamlit as st

from console import data
from console.ui import run_page


def body() -> None:
    """The Agents page: agents, their versions with status and reason, and traffic weights."""
    st.title("Agents")
    agents = data.agents_frame()
    if agents.empty:
        st.info("No agents yet. Submit a spec with `shipway agent submit <spec.yaml>` to start an agent's lifecycle.")
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


run_page(body)
