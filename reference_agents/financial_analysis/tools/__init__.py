"""The financial analysis agent's computations: market data, indicators, sentiment, signal."""
