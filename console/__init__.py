"""Shipway's operator console (Streamlit): agents, approvals and runs.

Run with ``shipway console`` or ``streamlit run console/app.py``.
"""
