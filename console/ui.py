"""Pieces shared by the console pages: who the console acts as (sidebar), why a control is
missing for a role, and database errors."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from console.data import DatabaseUnavailable
from console.identity import LOCAL_NAME_KEY, Identity, roles_allowed
from shipway.auth.roles import Action

OPERATOR_WIDGET_KEY = "operator_name"


def operator_sidebar(identity: Identity) -> None:
    """Render who the console acts as in the sidebar: the name, role and tenant.

    Signed in through the identity provider: the name and a Sign out button. The local operator:
    an input for the name to act as (kept under :data:`console.identity.LOCAL_NAME_KEY`); the role
    stays the configured one whatever name is typed.
    """
    if identity.source == "oidc":
        st.sidebar.markdown(f"Signed in as **{identity.name}**")
    else:
        # Re-seed the widget from a plain key each run: Streamlit drops a widget's state on page
        # switches when the widget is not sent back, and the name must survive them.
        st.session_state[OPERATOR_WIDGET_KEY] = st.session_state.setdefault(LOCAL_NAME_KEY, identity.name)
        st.sidebar.text_input("Act as operator", key=OPERATOR_WIDGET_KEY, on_change=_remember_operator)
        st.sidebar.caption("No sign-in is configured: approvals and resumes are recorded under this name.")
    st.sidebar.markdown(f"Role **{identity.role}** · " + (f"tenant `{identity.tenant}`" if identity.tenant else "every tenant"))
    if identity.source == "oidc":
        # a callback, so the run it triggers already sees nobody signed in and shows the sign-in
        st.sidebar.button("Sign out", key="sign_out", on_click=st.logout)


def _remember_operator() -> None:
    st.session_state[LOCAL_NAME_KEY] = st.session_state[OPERATOR_WIDGET_KEY].strip()


def role_notice(identity: Identity, action: Action, what: str) -> None:
    """Say why a control is missing: ``identity``'s role may not ``what`` (e.g. "approve or reject
    versions"), and which roles may."""
    st.info(f"Your role **{identity.role}** cannot {what}; that takes the {roles_allowed(action)} role.")


def show_database_error(exc: Exception) -> None:
    """Explain that the catalog database is unavailable and what to do about it."""
    st.error(f"The Shipway database is not available: {exc}")
    st.info("Start the local stack with `shipway up` (or set `DATABASE_URL` to a migrated database), then reload this page.")


def run_page(body: Callable[[], None]) -> None:
    """Run a page body, turning :class:`DatabaseUnavailable` into an explanation instead of a traceback."""
    try:
        body()
    except DatabaseUnavailable as exc:
        show_database_error(exc)
