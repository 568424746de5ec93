"""Query execution plans as a tree of :class:`PlanNode`, read by one adapter per plan format."""
