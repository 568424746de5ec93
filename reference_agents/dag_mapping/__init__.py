"""DAG -> code mapping reference agent: map each node of a query execution plan to the file, symbol
and line range of the code that produced it (issue 17). ``plans`` reads plans, ``code_index``
chunks a repository, ``mapper`` ranks and routes by confidence, ``ground_truth`` derives the
reference mapping the bench and the demo score against. ``AGENT`` is its definition."""

from reference_agents.base import AgentDefinition
from reference_agents.dag_mapping.inputs import MappingJobInput

AGENT = AgentDefinition.from_package(__name__, "DAG to Code Mapping", MappingJobInput)

__all__ = ["AGENT"]
