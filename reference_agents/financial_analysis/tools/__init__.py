"""The financial analysis agent's computations: market data, indicators, sentiment, signal, the
rules' track record on the data, and the report narrative's facts."""
