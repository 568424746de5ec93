"""Shipway: governed LangGraph agents from spec to production, run durably on Temporal."""
