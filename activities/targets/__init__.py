"""Deployment targets that apply an agent's traffic weights outside Shipway's own gateway."""
