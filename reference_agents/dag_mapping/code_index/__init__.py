"""Code index: a repository cut into chunks (functions, DataFrame calls, SQL clauses) with exact spans and what each names."""
