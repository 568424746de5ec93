"""Entry point of the operator console: ``streamlit run console/app.py``.

Establishes who the console acts as (:func:`console.identity.current_identity`: with sign-in
configured, nobody gets past the sign-in button), builds the sidebar (that identity, its role and
tenant, links to the Temporal Web UI and the gateway) and routes to one page module per concern
under ``console/views/`` (not ``pages/``, which Streamlit would also list as legacy pages).
"""

from pathlib import Path

import streamlit as st

from console.identity import current_identity
from console.ui import operator_sidebar
from shipway.settings import get_settings

PAGES = Path(__file__).parent / "views"

st.set_page_config(page_title="Shipway console", page_icon=":material/rocket_launch:", layout="wide")

identity = current_identity()
settings = get_settings()
with st.sidebar:
    operator_sidebar(identity)
    st.markdown(f"[Temporal UI]({settings.resolved_temporal_ui_url()}/namespaces/{settings.temporal_namespace}/workflows)")
    st.markdown(f"[Gateway]({settings.resolved_gateway_url()}/docs)")

navigation = st.navigation(
    [
        st.Page(PAGES / "overview.py", title="Overview", icon=":material/dashboard:", default=True),
        st.Page(PAGES / "agents.py", title="Agents", icon=":material/smart_toy:"),
        st.Page(PAGES / "search.py", title="Search", icon=":material/search:"),
        st.Page(PAGES / "create_agent.py", title="Create agent", icon=":material/add_circle:"),
        st.Page(PAGES / "approvals.py", title="Approvals", icon=":material/approval:"),
        st.Page(PAGES / "runs.py", title="Runs", icon=":material/play_circle:"),
        st.Page(PAGES / "mapping_jobs.py", title="Mapping jobs", icon=":material/account_tree:"),
        st.Page(PAGES / "deployments.py", title="Deployments", icon=":material/alt_route:"),
        st.Page(PAGES / "costs.py", title="Costs", icon=":material/payments:"),
        st.Page(PAGES / "runbooks.py", title="Runbooks", icon=":material/checklist:"),
    ]
)
navigation.run()
