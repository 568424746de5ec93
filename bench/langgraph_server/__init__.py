"""The LangGraph side of :mod:`bench.compare_langgraph`: the dev server's project (``langgraph.json``,
:mod:`~bench.langgraph_server.credit_graph`), its overlay venv, its process, and the AsyncPostgresSaver floor."""
