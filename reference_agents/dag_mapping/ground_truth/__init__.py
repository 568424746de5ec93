"""Ground truth for DAG -> code mapping, derived by running ibis's TPC query functions; the mapper
never sees it."""
