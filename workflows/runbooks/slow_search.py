"""Slow semantic search: how the search query runs (``EXPLAIN (ANALYZE, BUFFERS)``) and whether the
HNSW index exists, is valid and is used. Params: ``query`` (the text to search for). Remediation:
recreate the index (``CREATE INDEX CONCURRENTLY``) or ``REINDEX CONCURRENTLY`` it, after ``confirm``."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from workflows.diagnostics_types import (
    INSPECT_SEARCH_INDEX,
    REBUILD_SEARCH_INDEX,
    RebuildSearchIndex,
    RebuiltSearchIndex,
    SearchIndexCheck,
    SearchIndexReport,
)
from workflows.runbook_types import RUNBOOK_WORKFLOWS, RunbookInput, RunbookState
from workflows.runbooks.base import RunbookBase
from workflows.statuses import Runbook

_REBUILD = dict(start_to_close_timeout=timedelta(hours=1))


def _describe(r: SearchIndexReport) -> str:
    state = "missing" if not r.exists else ("invalid" if not r.valid else ("used" if r.used_by_plan else "not used"))
    return f"{r.index_name} {state}; search took {r.execution_ms:.1f} ms over {r.agents} agents"


@workflow.defn(name=RUNBOOK_WORKFLOWS[Runbook.SLOW_SEARCH])
class SlowSearchRunbook(RunbookBase):
    """Explain the search; rebuild a missing or invalid HNSW index once confirmed."""

    RUNBOOK = Runbook.SLOW_SEARCH

    @workflow.run
    async def run(self, inp: RunbookInput) -> RunbookState:
        await self.begin(inp)
        check = SearchIndexCheck(**({"query": inp.params["query"]} if inp.params.get("query") else {}))
        before = await self.diagnose("explain search", INSPECT_SEARCH_INDEX, check, SearchIndexReport)
        if before is None:
            return await self.finish("could not explain the search query")
        if before.exists and before.valid:
            await self.not_needed("rebuild the HNSW index", f"{before.index_name} exists and is valid")
            return await self.finish(_describe(before))
        action = "CREATE INDEX CONCURRENTLY" if not before.exists else "REINDEX INDEX CONCURRENTLY"
        rebuilt = await self.remediate("rebuild the HNSW index", f"{action} {before.index_name} (searches keep working meanwhile)",
                                       REBUILD_SEARCH_INDEX, RebuildSearchIndex(index_name=before.index_name),
                                       RebuiltSearchIndex, **_REBUILD)
        if rebuilt is None:
            return await self.finish(_describe(before) + "; not rebuilt")
        after = await self.diagnose("explain search after", INSPECT_SEARCH_INDEX, check, SearchIndexReport)
        return await self.finish(f"before: {_describe(before)}; {rebuilt.action} in {rebuilt.duration_s:.1f} s"
                                 + (f"; after: {_describe(after)}" if after else ""))
