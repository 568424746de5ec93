"""The financial analysis agent's computations: market data, indicators, sentiment, signal, and the
report narrative's facts."""
