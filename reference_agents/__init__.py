"""The reference LangGraph agents Shipway ships, and the registry that finds them."""
