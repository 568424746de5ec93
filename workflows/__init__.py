"""Temporal workflows (deterministic code only) and the dataclasses they exchange."""
