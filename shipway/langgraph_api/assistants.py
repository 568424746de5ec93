"""Assistants as the LangGraph Platform shows them: one per live Shipway agent.

``assistant_id`` is a UUID derived from the agent's name (UUID 5 in :data:`ASSISTANT_NAMESPACE`), so
it is the same on every gateway and across restarts; ``graph_id`` and ``name`` are the agent's name;
``version`` is its stable live version. Routes accept the UUID or the name wherever the Platform
takes an assistant id.
"""

from __future__ import annotations

import uuid
from typing import Any

from shipway.queries import LiveAgent

# fixed forever: changing it changes every assistant id clients have stored
ASSISTANT_NAMESPACE = uuid.UUID("5d1c8a5e-2b1f-4e07-9a35-6b0c2f7e4a11")
SORT_FIELDS = ("assistant_id", "graph_id", "name", "created_at", "updated_at")


def assistant_id(agent_name: str) -> str:
    """The assistant id of agent ``agent_name`` (a UUID string)."""
    return str(uuid.uuid5(ASSISTANT_NAMESPACE, agent_name))


def resolve(ref: str, live: list[LiveAgent]) -> LiveAgent | None:
    """The live agent ``ref`` names, by assistant id (UUID) or by name; None when none does."""
    return next((a for a in live if ref in (a.agent.name, assistant_id(a.agent.name))), None)


def assistant_view(live: LiveAgent) -> dict[str, Any]:
    """The Platform's ``Assistant`` for a live agent (JSON-ready: times in ISO 8601)."""
    agent = live.agent
    return {
        "assistant_id": assistant_id(agent.name),
        "graph_id": agent.name,
        "name": agent.name,
        "description": agent.description or None,
        "version": live.version,
        "config": {"configurable": {}},
        "context": {},
        "metadata": {"created_by": "system", "owner": agent.owner, "template": agent.template},
        "created_at": agent.created_at.isoformat(),
        "updated_at": max(agent.created_at, live.version_updated_at).isoformat(),
    }


def contains(whole: Any, part: Any) -> bool:
    """JSON containment as PostgreSQL's ``@>`` means it: every key of ``part`` is in ``whole`` with a
    contained value; a list contains a list whose every item it contains."""
    if isinstance(part, dict):
        return isinstance(whole, dict) and all(k in whole and contains(whole[k], v) for k, v in part.items())
    if isinstance(part, list):
        return isinstance(whole, list) and all(any(contains(w, p) for w in whole) for p in part)
    return whole == part


def search(views: list[dict[str, Any]], graph_id: str | None = None, name: str | None = None,
           metadata: dict | None = None, sort_by: str | None = None, sort_order: str | None = None,
           limit: int = 10, offset: int = 0) -> list[dict[str, Any]]:
    """The assistant views matching ``graph_id`` (exact), ``name`` (case-insensitive substring, as
    the Platform filters it) and ``metadata`` (containment), sorted (default: newest ``created_at``
    first) and paged."""
    hits = [v for v in views if (graph_id is None or v["graph_id"] == graph_id)
            and (name is None or name.lower() in v["name"].lower())
            and (not metadata or contains(v["metadata"], metadata))]
    key = sort_by if sort_by in SORT_FIELDS else "created_at"
    hits.sort(key=lambda v: (v[key], v["assistant_id"]), reverse=(sort_order or "desc") == "desc")
    return hits[offset:offset + limit]
