"""The HTTP gateway: invoke agents (routed by traffic weights), HITL resume, health, metrics."""
