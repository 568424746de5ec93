"""The rows of ``code_mappings`` (the only writer): one per plan node of a finished DAG -> code
mapping job, from the job's run output.

A job is a run of an agent built from the ``dag_mapping`` template; its output's ``mappings`` are
:func:`reference_agents.dag_mapping.outputs.mapping_row` rows. They are written in the same
transaction that records the run as ended (:mod:`activities.runs`), so a job is never seen finished
without its rows; a retried write replaces the run's rows instead of adding to them.
"""

from __future__ import annotations

from sqlmodel import delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shipway.db.models import CODE_MAPPING_FIELDS, Agent, CodeMapping, Run

MAPPING_TEMPLATE = "dag_mapping"
"""Runs of agents built from this template are mapping jobs."""


async def is_mapping_job(s: AsyncSession, run: Run) -> bool:
    """Whether ``run`` belongs to an agent built from :data:`MAPPING_TEMPLATE`."""
    template = (await s.exec(select(Agent.template).where(Agent.name == run.agent_name))).first()
    return template == MAPPING_TEMPLATE


def rows(run: Run, output: dict) -> list[CodeMapping]:
    """The ``code_mappings`` rows of a mapping job's ``output`` (``analysis_id``, ``mappings``: one
    dict per node in plan pre-order with the fields :data:`~shipway.db.models.CODE_MAPPING_FIELDS`).

    Raises:
        KeyError: a mapping lacks one of those fields (the output is not a mapping job's).
    """
    return [
        CodeMapping(run_id=run.id, tenant=run.tenant, analysis_id=output["analysis_id"], position=i,
                    **{k: m[k] for k in CODE_MAPPING_FIELDS})
        for i, m in enumerate(output["mappings"])
    ]


async def replace(s: AsyncSession, run: Run, output: dict) -> int:
    """Write the job's rows in ``s`` (the caller commits), replacing any an earlier attempt wrote.
    Returns how many were written. Raises KeyError as :func:`rows`."""
    new = rows(run, output)
    await s.exec(delete(CodeMapping).where(CodeMapping.run_id == run.id))
    s.add_all(new)
    return len(new)
