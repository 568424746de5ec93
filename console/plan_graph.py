"""The plan of a DAG -> code mapping job as Graphviz DOT text, for ``st.graphviz_chart``.

One box per plan node, in the order given (the jobs' pre-order), labelled with its operator, kind
and confidence and filled by its confidence band; one edge per parent -> child of the plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

BAND_FILLS = {
    "accept": "#a5d6a7",  # green: confidence >= 0.8
    "second_pass": "#ffe082",  # amber: 0.5 <= confidence < 0.8
    "review": "#ef9a9a",  # red: below 0.5, waiting for a person
    "rejected": "#e0e0e0",  # grey: a person found no code for it
    "reviewed": "#90caf9",  # blue: a person placed it
}
UNKNOWN_FILL = "#ffffff"  # a band this page does not know (a newer agent's): drawn, not coloured
BAND_MEANINGS = {
    "accept": "confidence >= 0.8",
    "second_pass": "confidence 0.5-0.8, alternatives kept",
    "review": "confidence < 0.5, waiting for a person",
    "rejected": "a person found no code for it",
    "reviewed": "placed by a person",
}


def _escaped(text: str) -> str:
    """``text`` for inside a DOT double-quoted string (backslashes and quotes escaped)."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _quoted(text: str) -> str:
    return f'"{_escaped(text)}"'


def node_label(m: Mapping) -> str:
    """The box's text: ``OPERATOR`` on one line, ``kind · confidence`` (2 decimals) below."""
    return f"{m['operator']}\n{m['kind']} · {float(m['confidence']):.2f}"


def plan_dot(mappings: Sequence[Mapping]) -> str:
    """DOT text of a digraph drawing ``mappings`` (dicts with ``node_id``, ``operator``, ``kind``,
    ``confidence`` in [0, 1], ``band`` and ``children``: the node ids under it), top to bottom from
    the plan's root.

    Node lines come in the order of ``mappings``, then the edges in the same order, each
    ``"parent" -> "child"``; a node's ``fillcolor`` is :data:`BAND_FILLS` of its band.
    """
    lines = [
        "digraph plan {",
        "  rankdir=TB;",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
    ]
    for m in mappings:
        label = "\\n".join(_escaped(part) for part in node_label(m).split("\n"))  # DOT's own line break
        fill = BAND_FILLS.get(m["band"], UNKNOWN_FILL)
        lines.append(f'  {_quoted(m["node_id"])} [label="{label}", fillcolor="{fill}", tooltip={_quoted(m["band"])}];')
    for m in mappings:
        lines += [f"  {_quoted(m['node_id'])} -> {_quoted(child)};" for child in m["children"]]
    lines.append("}")
    return "\n".join(lines)
