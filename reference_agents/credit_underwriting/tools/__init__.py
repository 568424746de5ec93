"""Computations of the credit-underwriting agent: the German Credit data and the scorecard."""
