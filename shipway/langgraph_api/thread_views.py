"""Threads and their states as the LangGraph Platform shows them (``langgraph_sdk.schema``'s
``Thread`` and ``ThreadState``), built from Shipway's ``threads`` rows and LangGraph's
``StateSnapshot``s. Everything returned is JSON-ready: state values go through :func:`jsonable`
(pydantic models and LangChain messages as their ``model_dump``, dataclasses as dicts, times in
ISO 8601, anything else as its ``str``).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from enum import Enum
from typing import Any

from langgraph.types import StateSnapshot

from shipway.langgraph_api.assistants import assistant_id
from shipway.queries import ThreadRow


def _default(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, BaseException):
        return f"{type(value).__name__}({value})"
    return str(value)


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON types (see the module docstring)."""
    return json.loads(json.dumps(value, default=_default))


def checkpoint_view(config: dict | None, thread_id: str) -> dict[str, Any]:
    """The Platform's ``Checkpoint`` of a RunnableConfig: ``thread_id``, ``checkpoint_ns`` (``""``
    at the root), ``checkpoint_id`` (None before the first checkpoint), ``checkpoint_map``."""
    conf = (config or {}).get("configurable", {})
    return {"thread_id": conf.get("thread_id") or thread_id, "checkpoint_ns": conf.get("checkpoint_ns") or "",
            "checkpoint_id": conf.get("checkpoint_id"), "checkpoint_map": conf.get("checkpoint_map")}


def interrupt_view(interrupt: Any) -> dict[str, Any]:
    """The Platform's ``Interrupt``: ``{"value", "id"}``."""
    return {"value": jsonable(interrupt.value), "id": interrupt.id}


def state_view(snapshot: StateSnapshot, thread_id: str) -> dict[str, Any]:
    """The Platform's ``ThreadState`` of a snapshot: ``values``, ``next``, ``tasks`` (each with its
    ``interrupts``, its subgraph's ``state`` when read with ``subgraphs``, else the subgraph's
    ``checkpoint``), ``metadata`` (a dict), ``created_at``, ``checkpoint``, ``parent_checkpoint``
    (None for the first), ``interrupts``; plus the deprecated ``checkpoint_id`` and
    ``parent_checkpoint_id`` older clients read."""
    tasks = []
    for t in snapshot.tasks:
        sub = t.state
        tasks.append({
            "id": t.id, "name": t.name, "path": jsonable(t.path),
            "error": _default(t.error) if t.error is not None else None,
            "interrupts": [interrupt_view(i) for i in t.interrupts],
            "checkpoint": checkpoint_view(sub, thread_id) if sub is not None and not isinstance(sub, StateSnapshot) else None,
            "state": state_view(sub, thread_id) if isinstance(sub, StateSnapshot) else None,
            "result": jsonable(t.result) if t.result is not None else None,
        })
    checkpoint = checkpoint_view(snapshot.config, thread_id)
    parent = checkpoint_view(snapshot.parent_config, thread_id) if snapshot.parent_config else None
    return {
        "values": jsonable(snapshot.values if snapshot.values is not None else {}),
        "next": list(snapshot.next),
        "tasks": tasks,
        "metadata": jsonable(dict(snapshot.metadata or {})),
        "created_at": snapshot.created_at,
        "checkpoint": checkpoint,
        "parent_checkpoint": parent,
        "interrupts": [interrupt_view(i) for i in snapshot.interrupts],
        "checkpoint_id": checkpoint["checkpoint_id"],
        "parent_checkpoint_id": parent["checkpoint_id"] if parent else None,
    }


def empty_state(thread_id: str) -> dict[str, Any]:
    """The ``ThreadState`` of a thread no run has checkpointed yet (no agent bound, or no checkpoint)."""
    return state_view(StateSnapshot(values={}, next=(), config={}, metadata=None, created_at=None, parent_config=None,
                                    tasks=(), interrupts=()), thread_id)


def thread_metadata(row: ThreadRow) -> dict[str, Any]:
    """The thread's metadata, with ``graph_id`` and ``assistant_id`` of its agent once a run bound
    one (as the Platform adds them)."""
    meta = dict(row.thread.meta or {})
    if row.thread.agent_name:
        meta.setdefault("graph_id", row.thread.agent_name)
        meta.setdefault("assistant_id", assistant_id(row.thread.agent_name))
    return meta


def thread_view(row: ThreadRow, state: dict[str, Any] | None) -> dict[str, Any]:
    """The Platform's ``Thread``: ``thread_id``, ``created_at``, ``updated_at``, ``metadata``,
    ``status`` (``idle``/``busy``/``interrupted``/``error``), ``values`` (of ``state``, its latest
    ``ThreadState``; None without one) and ``interrupts`` by task id."""
    t = row.thread
    interrupts: dict[str, list] = {}
    for task in (state or {}).get("tasks", []):
        if task["interrupts"]:
            interrupts.setdefault(task["id"], []).extend(task["interrupts"])
    return {
        "thread_id": t.thread_id,
        "created_at": t.created_at.isoformat(),
        "updated_at": t.updated_at.isoformat(),
        "metadata": thread_metadata(row),
        # a state updated past the interrupt of the thread's last run has nothing left to answer
        "status": "idle" if row.status == "interrupted" and state is not None and not interrupts else row.status,
        "values": state["values"] if state else None,
        "interrupts": interrupts,
    }
