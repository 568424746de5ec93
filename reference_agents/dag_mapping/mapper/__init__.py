"""Mapper: each plan node -> the code chunk that produced it, by retrieval and structural re-ranking (no LLM)."""
