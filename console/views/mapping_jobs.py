"""Mapping jobs page: the recent DAG -> code mapping jobs (runs of agents built from the
``dag_mapping`` template) of the console's tenant, and one job (picked, or linked as ``?job=<id>``):
its plan drawn as a graph coloured by confidence band beside the code a picked node was mapped to;
while it waits for a review, the nodes waiting, with links to the Runs page (where the answer form
is) and to its workflow in the Temporal UI. Reading jobs takes ``run.read``."""

from pathlib import PurePosixPath

import pandas as pd
import streamlit as st

from console import data
from console.code_excerpt import ExcerptUnavailable, read_excerpt
from console.identity import Identity, current_identity
from console.plan_graph import BAND_FILLS, BAND_MEANINGS, plan_dot
from console.ui import role_notice, run_page
from shipway.auth.roles import Action
from workflows.statuses import RunStatus

RUNS_PAGE = "views/runs.py"
PICKED_KEY = "mapping_jobs_picked"  # the job this page last wrote to the URL
LANGUAGES = {".py": "python", ".sql": "sql"}  # the files the mapper indexes


def _pick(job_ids: list[str], identity: Identity) -> str:
    """The job to show: the one the URL names (``?job=``; also beyond the table, when readable),
    else the newest; written back to the URL so the view can be shared."""
    wanted = st.query_params.get("job")
    linked = wanted != st.session_state.get(PICKED_KEY)  # not the pick this page wrote: a link
    if linked and wanted and wanted not in job_ids and data.mapping_job(wanted, identity.tenant) is not None:
        job_ids = [wanted, *job_ids]
    index = job_ids.index(wanted) if wanted in job_ids else 0
    job_id = st.selectbox("Job", job_ids, index=index, key="mapping_job_pick")
    st.query_params["job"] = st.session_state[PICKED_KEY] = job_id
    return job_id


def _legend() -> None:
    st.markdown(" ".join(f'<span style="background:{BAND_FILLS[b]};padding:0 6px;border-radius:3px">{b}</span>'
                         for b in BAND_FILLS), unsafe_allow_html=True,
                help="\n".join(f"- **{b}**: {meaning}" for b, meaning in BAND_MEANINGS.items()))


def _lines(m: dict) -> str:
    return f"{m['start_line']}-{m['end_line']}" if m["start_line"] != m["end_line"] else str(m["start_line"])


def _code(job: data.MappingJob, m: dict) -> None:
    """Where node ``m`` was mapped, why, the other candidates, and the code itself with the mapped lines marked."""
    st.markdown(f"**{m['operator']}** (`{m['node_id']}`, {m['kind']}) · band **{m['band']}** · "
                f"confidence **{m['confidence']:.2f}** · source {m['source']}"
                + (f" · reviewed by {m['reviewed_by']}" if m["reviewed_by"] else ""))
    if m["path"] is None or m["start_line"] is None:
        st.info("No code for this node: a person found none (e.g. an operator the optimiser made).")
    else:
        st.markdown(f"`{m['path']}:{_lines(m)}` in `{m['symbol'] or '(module level)'}`")
        try:
            ex = read_excerpt(job.repository, m["path"], m["start_line"], m["end_line"])
        except ExcerptUnavailable as exc:
            st.warning(str(exc))
        else:
            st.code(ex.numbered(), language=LANGUAGES.get(PurePosixPath(m["path"]).suffix))
    if m["explanation"]:
        st.caption(m["explanation"])
    if m["alternatives"]:
        st.markdown("**Alternatives**")
        st.dataframe(pd.DataFrame(m["alternatives"], columns=["path", "symbol", "start_line", "end_line", "score"]),
                     hide_index=True, key=f"alternatives:{job.run.id}:{m['node_id']}")


def _mapped(job: data.MappingJob) -> None:
    """The plan graph beside the code of the node picked."""
    graph, code = st.columns(2)
    with graph:
        st.graphviz_chart(plan_dot(job.mappings))
        _legend()
    with code:
        by_id = {m["node_id"]: m for m in job.mappings}
        node = st.selectbox("Plan node", list(by_id), key=f"mapping_node:{job.run.id}",
                            format_func=lambda n: f"{n} · {by_id[n]['operator']} · {by_id[n]['band']}")
        _code(job, by_id[node])


def _pending(job: data.MappingJob) -> None:
    """Where a job that has not ended is, and (when it waits for a review) the nodes waiting."""
    run = job.run
    if run.status == RunStatus.INTERRUPTED:
        st.warning(f"Waiting for a review of {len(job.waiting)} node(s) with confidence below 0.5; "
                   "the other nodes are mapped. Its mappings are stored once the review is answered.")
        st.dataframe(pd.DataFrame([{k: n.get(k) for k in ("node_id", "operator", "kind", "confidence")}
                                   | {"candidates": len(n.get("candidates") or ()), "best": _best(n)} for n in job.waiting],
                                  columns=["node_id", "operator", "kind", "confidence", "candidates", "best"]),
                     hide_index=True, key=f"waiting:{run.id}")
        st.page_link(RUNS_PAGE, label="Answer the review on the Runs page", icon=":material/rate_review:",
                     query_params={"run": run.id})
    elif run.status == RunStatus.RUNNING:
        st.info("Mapping in progress: the plan and its mappings appear here once the job ends.")
    else:
        st.info(f"The job ended **{run.status}** without mappings." + (f" {run.error}" if run.error else ""))


def _best(node: dict) -> str:
    """A waiting node's best candidate as ``path:start-end (score)``, or ``""`` without one."""
    c = next(iter(node.get("candidates") or ()), None)
    return f"{c['path']}:{c['start_line']}-{c['end_line']} ({c['score']:.2f})" if c else ""


def _detail(job_ids: list[str], identity: Identity) -> None:
    st.subheader("Job")
    job_id = _pick(job_ids, identity)
    job = data.mapping_job(job_id, identity.tenant)
    if job is None:
        st.warning(f"Job {job_id} no longer exists.")
        return
    run = job.run
    st.markdown(f"**{run.input.get('analysis_id', '')}** · {run.agent_name} v{run.version} · status **{run.status}** · "
                f"tenant `{run.tenant}` · repository `{job.repository}` · "
                f"[workflow {run.workflow_id}]({job.workflow_url})")
    if job.mappings:
        _mapped(job)
    else:
        _pending(job)


def body() -> None:
    """The Mapping jobs page: the newest jobs and one job's plan and code (``?job=<id>``)."""
    st.title("Mapping jobs")
    identity = current_identity()
    if not identity.may(Action.RUN_READ):
        role_notice(identity, Action.RUN_READ, "read the tenant's mapping jobs")
        return
    jobs = data.mapping_jobs_frame(identity.tenant)
    if jobs.empty:
        st.info("No mapping jobs yet. Start one with `POST /v1/map-to-code` once an agent built from the "
                "`dag_mapping` template is live.")
        return
    st.dataframe(
        jobs,
        hide_index=True,
        key="mapping_jobs_table",
        column_config={
            "cost_usd": st.column_config.NumberColumn("cost (USD)", format="$%.5f"),
            "started_at": st.column_config.DatetimeColumn("started (UTC)"),
        },
    )
    _detail(jobs["job_id"].tolist(), identity)


run_page(body)
