"""DAG -> code mapping: map each node of a query execution plan to the file, symbol and line range of
the code that produced it (issue 17). ``plans`` reads plans, ``code_index`` chunks a repository,
``ground_truth`` derives the reference mapping the bench scores against."""
