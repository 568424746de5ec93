"""When a run's graph writes its checkpoints: LangGraph's ``durability`` per agent version.

LangGraph offers three modes (``Pregel.astream(durability=...)``): ``sync`` and ``async`` write a
checkpoint after every node (``async`` while the next node already runs), ``exit`` writes one when
the graph ends, interrupts or fails. Measured on this machine (Credit Underwriting, 9 node steps,
20 runs in flight, ``AsyncPostgresSaver`` alone): 39-43 runs/s with a checkpoint per step, 150
runs/s with ``exit`` (DESIGN.md; docs/performance.md). What each costs after a crash:

- per node (``async``/``sync``): the step resumes from its last checkpoint, no checkpointed node runs again;
- ``exit``: the step runs again whole, from its input or its resume answer. Right for short
  deterministic graphs, wrong for nodes with effects outside the graph (an LLM call billed twice,
  a payment made twice).

So ``auto`` (the spec's default) picks per node when a node may call an LLM (the version has a
model, its own or the platform's ``SHIPWAY_LLM``, or a per-run budget, ``max_cost_usd``, which
only LLM calls spend) or declares ``external_calls``, else ``exit``;
the worker also moves an ``exit`` version to per node once it sees one of its steps call an LLM.
"""

from __future__ import annotations

from typing import Literal

Durability = Literal["exit", "async", "sync"]
PER_NODE: Durability = "async"  # LangGraph's default


def resolve_durability(declared: str | None, *, model: str | None, external_calls: bool = False,
                       budgeted: bool = False) -> Durability:
    """The mode a version runs with.

    Args:
        declared: the spec's ``durability`` (``auto``, ``exit``, ``async``, ``sync``; None = ``auto``).
        model: the version's ``provider:model`` (its spec's, else the platform default), or None.
        external_calls: the spec declares nodes that call external systems.
        budgeted: the spec sets a per-run budget (``max_cost_usd``).

    Returns:
        ``declared`` unless it is ``auto``; then :data:`PER_NODE` with a model, a budget or external
        calls, else ``exit``.

    Raises:
        ValueError: ``declared`` is not one of the four names.
    """
    if declared in ("exit", "async", "sync"):
        return declared
    if declared not in (None, "auto"):
        raise ValueError(f"unknown durability {declared!r}; one of auto, exit, async, sync")
    return PER_NODE if model or external_calls or budgeted else "exit"


def spec_durability(spec: dict, default_model: str | None) -> Durability:
    """The mode a version runs with, from its stored spec (``durability``, ``model``, ``external_calls``,
    ``max_cost_usd``; see :func:`resolve_durability`) and the platform's ``SHIPWAY_LLM`` (``default_model``),
    which a version without a model of its own runs with. The gateway and the worker both decide by it.

    Raises:
        ValueError: the spec's ``durability`` is not one of the four names.
    """
    return resolve_durability(spec.get("durability"), model=spec.get("model") or default_model,
                              external_calls=bool(spec.get("external_calls")), budgeted=spec.get("max_cost_usd") is not None)
