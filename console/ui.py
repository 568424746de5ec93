"""Pieces shared by the console pages: who the operator acts as, and database errors."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from console.data import DatabaseUnavailable
from shipway.settings import get_settings

ACTING_AS_KEY = "acting_as"
OPERATOR_WIDGET_KEY = "operator_name"


def signed_in_user() -> str | None:
    """E-mail (or name, or subject) of the user signed in through Streamlit auth; ``None`` when
    auth is not configured or nobody is signed in."""
    info = st.user.to_dict()
    if not info.get("is_logged_in"):
        return None
    for claim in ("email", "name", "sub"):
        if info.get(claim):
            return str(info[claim])
    return None


def operator_sidebar() -> str:
    """Render who the operator acts as in the sidebar and remember it for the pages.

    The signed-in user when Streamlit auth is configured; otherwise a name typed in the
    sidebar (default ``settings.operator``). Returns the name, possibly ``""``.
    """
    user = signed_in_user()
    if user:
        st.sidebar.markdown(f"Signed in as **{user}**")
        st.session_state[ACTING_AS_KEY] = user
        return user
    st.session_state.setdefault(ACTING_AS_KEY, get_settings().operator)
    # Re-seed the widget from a plain key each run: Streamlit drops a widget's state on page
    # switches when the widget is not sent back, and the name must survive them.
    st.session_state[OPERATOR_WIDGET_KEY] = st.session_state[ACTING_AS_KEY]
    st.sidebar.text_input("Act as operator", key=OPERATOR_WIDGET_KEY, on_change=_remember_operator)
    st.sidebar.caption("No sign-in is configured: approvals and resumes are recorded under this name.")
    return st.session_state[ACTING_AS_KEY]


def _remember_operator() -> None:
    st.session_state[ACTING_AS_KEY] = st.session_state[OPERATOR_WIDGET_KEY].strip()


def acting_as() -> str:
    """The operator name the current page acts as (set by :func:`operator_sidebar`)."""
    return st.session_state.get(ACTING_AS_KEY, "")


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
