"""The LangGraph Platform (LangSmith Deployment) HTTP API as Shipway serves it, so ``langgraph-sdk``,
``RemoteGraph`` and LangGraph Studio work against the gateway unchanged.

Mapping: an assistant is a live Shipway agent (:mod:`.assistants`); a thread is a Shipway
conversation thread whose state is read from its checkpoints through the agent version's own graph
(:mod:`.graphs`) and shown as the Platform shows it (:mod:`.thread_views`). Routes live in
``shipway/gateway/routers/lg_*.py`` and answer errors in the Platform's ``{"detail": ...}`` shape
(:mod:`.errors`).
"""
