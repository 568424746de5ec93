"""Search page: find agents by what they do. Hybrid search (:func:`shipway.search.search_agents`):
the query's embedding (the local all-MiniLM-L6-v2 that embedded the descriptions) against the
agents' description embeddings, fused with PostgreSQL full-text search over name, description and
template; filters by status, owner and template (and the console's tenant, when it has one). Each
hit links to its runs. Reading it takes ``agent.read``."""

import streamlit as st

from console import data
from console.identity import current_identity
from console.ui import role_notice, run_page
from shipway.auth.roles import Action
from shipway.search import embed_query
from workflows.statuses import VersionStatus

ALL = "(all)"
LIMITS = (10, 25, 50)


@st.cache_data(max_entries=256, show_spinner="Embedding the query (the first search loads the model)...")
def _embedding(text: str) -> list[float]:
    return embed_query(text)


def _filters() -> tuple[str | None, str | None, str | None, int]:
    options = data.search_options()
    c = st.columns(4)
    status = c[0].selectbox("Status", [ALL, *VersionStatus], key="search_status")
    owner = c[1].selectbox("Owner", [ALL, *options["owner"]], key="search_owner")
    template = c[2].selectbox("Template", [ALL, *options["template"]], key="search_template")
    limit = c[3].selectbox("Results", LIMITS, key="search_limit")
    return (*(None if v == ALL else v for v in (status, owner, template)), limit)


def body() -> None:
    """The Search page: the query, the filters and the hits, best first."""
    st.title("Search")
    identity = current_identity()
    if not identity.may(Action.AGENT_READ):
        role_notice(identity, Action.AGENT_READ, "read agents")
        return
    text = st.text_input("Search agents", key="search_text", placeholder="e.g. score consumer credit applications",
                         help='Words are matched in full text too: "quoted phrases", or, and -word work.').strip()
    status, owner, template, limit = _filters()
    if not text:
        st.caption("Describe what the agent does; hits are ranked by meaning and by the words they share with the query.")
        return
    try:
        embedding = _embedding(text)
    except FileNotFoundError as exc:  # no local model: the words alone still find agents
        st.warning(f"No embedding model ({exc}): searching by words only.")
        embedding = None
    hits = data.search_frame(text, embedding, status=status, owner=owner, template=template, tenant=identity.tenant, limit=limit)
    if hits.empty:
        st.info("No agent matches. Try other words, or fewer filters.")
        return
    hits = hits.assign(runs=[f"runs?agent={name}" for name in hits["name"]])  # the Runs page filters by its URL
    st.dataframe(
        hits, hide_index=True, key="search_hits",
        column_order=["name", "score", "vector_rank", "text_rank", "status", "live_version", "owner", "template",
                      *(["tenant"] if identity.tenant is None else []), "runs", "description"],
        column_config={
            "score": st.column_config.NumberColumn("score", format="%.4f", help="Reciprocal rank fusion of the two rankings"),
            "live_version": st.column_config.NumberColumn("live version"),
            "vector_rank": st.column_config.NumberColumn("by meaning", help="Rank by embedding similarity (empty: not found)"),
            "text_rank": st.column_config.NumberColumn("by words", help="Rank by full-text search (empty: not found)"),
            "runs": st.column_config.LinkColumn("runs", display_text="open on Runs"),
            "description": st.column_config.TextColumn("description", width="large"),
        },
    )
    st.caption(f"{len(hits)} best of the agents found by meaning and by words"
               + (f", shared or of tenant `{identity.tenant}`" if identity.tenant else "") + ".")


run_page(body)
