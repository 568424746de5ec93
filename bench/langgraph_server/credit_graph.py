"""The Credit Underwriting graph for the LangGraph dev server (``langgraph.json`` next to this file).

The same code Shipway runs (:func:`reference_agents.credit_underwriting.graph.build_graph` with the
default policy), compiled without a checkpointer: the server attaches its own. Loaded by file path by
``langgraph dev`` in the overlay venv of :mod:`bench.compare_langgraph`, which resolves
``reference_agents`` from the main venv.
"""

from reference_agents.credit_underwriting.graph import build_graph

graph = build_graph({}).compile()
