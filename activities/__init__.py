"""Temporal activities and the services behind them; all side effects of Shipway live here."""
