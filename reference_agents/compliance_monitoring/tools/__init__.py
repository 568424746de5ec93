"""The agent's computations: list parsers (UN, OFAC), name normalisation and fuzzy screening,
secondary identifiers, transaction monitoring rules, and the case narrative's facts."""
