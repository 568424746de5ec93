"""The Mapping jobs page rendered by Streamlit's AppTest against a real, migrated PostgreSQL, on a
real job: DuckDB's TPC-H Q3 plan mapped into ibis's real TPC directory by the dag_mapping graph (run
in-process with an in-memory checkpointer, its review answered by the demo reviewer), stored as the
worker stores it (:func:`activities.code_mappings.rows`). Plus the DOT and excerpt helpers alone."""

from __future__ import annotations

import re
import tarfile
from datetime import timedelta
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from streamlit.testing.v1 import AppTest

from activities.code_mappings import MAPPING_TEMPLATE, rows
from console.code_excerpt import MARK, ExcerptUnavailable, excerpt, read_excerpt
from console.plan_graph import BAND_FILLS, UNKNOWN_FILL, plan_dot
from reference_agents.dag_mapping import AGENT
from shipway.db.models import Agent, Run, utcnow
from tests.console.conftest import APP, APP_TIMEOUT_S
from workflows.statuses import RunStatus

PAGE = "views/mapping_jobs.py"
TENANT = "bank-a"
NODE_RE = re.compile(r'^  "(?P<id>[^"]+)" \[label="(?P<label>[^"]*)", fillcolor="(?P<fill>#[0-9a-f]{6})"', re.M)
EDGE_RE = re.compile(r'^  "(?P<parent>[^"]+)" -> "(?P<child>[^"]+)";$', re.M)


@pytest.fixture(scope="module")
def q3() -> dict:
    """A real job on TPC-H Q3: ``input``, the review ``request`` it interrupted with, and the ``output``
    once the demo reviewer answered it."""
    job = AGENT.sample_inputs(1)[0]
    graph = AGENT.build_graph({}).compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "q3"}}
    graph.invoke(job, config)
    [interrupt] = [i for task in graph.get_state(config).tasks for i in task.interrupts]
    graph.invoke(Command(resume=AGENT.resume_value(interrupt.value, job)), config)
    return {"input": job, "request": interrupt.value, "output": AGENT.output(graph.get_state(config).values)}


def _job(run_id: str, q3: dict, tenant: str = TENANT, **fields) -> Run:
    return Run(**{"id": run_id, "agent_name": "tpc-mapper", "version": 1, "thread_id": run_id, "tenant": tenant,
                  "workflow_id": f"run:{run_id}", "input": q3["input"], **fields})


def _seed_jobs(seed, q3: dict, **done_input) -> None:
    """The mapping agent; a finished job with its rows (its input's fields overridden by
    ``done_input``), a job waiting for its review (newer) and another tenant's job (newest)."""
    t0 = utcnow()
    done = _job("job-done", q3, status=RunStatus.SUCCEEDED, output=q3["output"], started_at=t0 - timedelta(minutes=5),
                finished_at=t0 - timedelta(minutes=4), cost_usd=0.0123, input={**q3["input"], **done_input})
    mapped = rows(done, q3["output"])  # as the worker writes them when the job ends
    seed(Agent(name="tpc-mapper", owner="ana@bank.example", template=MAPPING_TEMPLATE))
    seed(done,
         _job("job-wait", q3, status=RunStatus.INTERRUPTED, interrupt=q3["request"], started_at=t0 - timedelta(minutes=2)),
         _job("job-other", q3, tenant="bank-b", status=RunStatus.SUCCEEDED, output=q3["output"], started_at=t0))
    seed(*mapped)


@pytest.fixture
def tenant_console(console_env, monkeypatch):
    """The console of tenant :data:`TENANT` (``SHIPWAY_CONSOLE_TENANT``)."""
    from shipway.settings import get_settings

    monkeypatch.setenv("SHIPWAY_CONSOLE_TENANT", TENANT)
    get_settings.cache_clear()


def _open(job_id: str | None = None) -> AppTest:
    """The Mapping jobs page, linked with ``?job=<job_id>`` when given."""
    at = AppTest.from_file(str(APP), default_timeout=APP_TIMEOUT_S).run()
    at.switch_page(PAGE)
    if job_id:
        at.query_params["job"] = job_id
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _dot(at: AppTest) -> str:
    [chart] = at.get("graphviz_chart")
    return chart.proto.spec


def _code_panel(at: AppTest) -> str:
    [code] = at.code
    return code.value


# -- the page ------------------------------------------------------------------------------------
def test_the_table_lists_the_tenants_jobs_with_their_bands_and_not_another_tenants(seed, q3, tenant_console):
    _seed_jobs(seed, q3)
    at = _open()
    jobs = at.dataframe[0].value.set_index("job_id")
    assert jobs.index.tolist() == ["job-wait", "job-done"]  # newest first; bank-b's job-other is not listed
    done, wait = jobs.loc["job-done"], jobs.loc["job-wait"]
    bands = q3["output"]["bands"]
    assert (done.analysis_id, done.agent, done.version, done.status) == ("tpch-q03", "tpc-mapper", 1, "succeeded")
    assert done.nodes == len(q3["output"]["mappings"]) == sum(bands.values())
    assert {b: done[b] for b in bands} == bands and done.cost_usd == 0.0123
    assert (wait.status, wait.review) == ("interrupted", len(q3["request"]["context"]["nodes"]))
    assert at.selectbox(key="mapping_job_pick").options == ["job-wait", "job-done"]


def test_a_linked_job_draws_its_plan_coloured_by_band_beside_the_mapped_code(seed, q3, tenant_console):
    _seed_jobs(seed, q3)
    at = _open("job-done")
    assert at.selectbox(key="mapping_job_pick").value == "job-done"
    mappings = q3["output"]["mappings"]
    assert {"accept", "second_pass", "rejected"} <= {m["band"] for m in mappings}  # Q3 has three bands to tell apart

    dot = _dot(at)
    nodes = [(n["id"], n["fill"]) for n in NODE_RE.finditer(dot)]
    assert nodes == [(m["node_id"], BAND_FILLS[m["band"]]) for m in mappings]  # every node, in pre-order
    labels = {n["id"]: n["label"] for n in NODE_RE.finditer(dot)}
    assert all(labels[m["node_id"]] == f"{m['operator']}\\n{m['kind']} · {m['confidence']:.2f}" for m in mappings)
    assert sorted((e["parent"], e["child"]) for e in EDGE_RE.finditer(dot)) == sorted(
        (m["node_id"], c) for m in mappings for c in m["children"])

    # the root is picked first: its lines of the real file, marked, with context around them
    root = mappings[0]
    assert at.selectbox(key="mapping_node:job-done").value == root["node_id"]
    source = (Path(q3["input"]["repository"]) / root["path"]).read_text().splitlines()
    panel = _code_panel(at).splitlines()
    first = root["start_line"] - 3
    assert [line.split(" | ", 1)[1] for line in panel] == source[first - 1:root["end_line"] + 3]
    assert [line.startswith(MARK) for line in panel] == [first + i >= root["start_line"] and first + i <= root["end_line"]
                                                         for i in range(len(panel))]
    assert f"`{root['path']}:{root['start_line']}` in `{root['symbol']}`" in "\n".join(m.value for m in at.markdown)
    assert at.dataframe[1].value.to_dict("records") == root["alternatives"]


def test_picking_a_rejected_node_says_no_code_and_a_second_pass_node_shows_its_span(seed, q3, tenant_console):
    _seed_jobs(seed, q3)
    at = _open("job-done")
    mappings = q3["output"]["mappings"]
    rejected = next(m for m in mappings if m["band"] == "rejected")
    at.selectbox(key="mapping_node:job-done").set_value(rejected["node_id"]).run()
    assert "No code for this node" in " ".join(i.value for i in at.info)
    assert not at.code

    second = next(m for m in mappings if m["band"] == "second_pass")
    at.selectbox(key="mapping_node:job-done").set_value(second["node_id"]).run()
    source = (Path(q3["input"]["repository"]) / second["path"]).read_text().splitlines()
    marked = [line for line in _code_panel(at).splitlines() if line.startswith(MARK)]
    assert [line.split(" | ", 1)[1] for line in marked] == source[second["start_line"] - 1:second["end_line"]]
    assert second["explanation"] in [c.value for c in at.caption]


def test_a_job_waiting_for_review_lists_the_waiting_nodes_and_links_to_the_answer_form(seed, q3, tenant_console, console_env):
    _seed_jobs(seed, q3)
    at = _open("job-wait")
    waiting = q3["request"]["context"]["nodes"]
    assert [w.value for w in at.warning] == [
        f"Waiting for a review of {len(waiting)} node(s) with confidence below 0.5; the other nodes are mapped. "
        "Its mappings are stored once the review is answered."]
    table = at.dataframe[1].value
    assert table[["node_id", "operator", "kind"]].values.tolist() == [[n["node_id"], n["operator"], n["kind"]] for n in waiting]
    assert table["candidates"].tolist() == [len(n["candidates"]) for n in waiting]
    [link] = at.get("page_link")
    assert (link.proto.page, link.proto.query_string) == ("runs", "run=job-wait")  # the Runs page's URL path
    assert f"({console_env.workflow_url('run:job-wait')})" in "\n".join(m.value for m in at.markdown)
    assert not at.get("graphviz_chart")


def test_another_tenants_job_is_not_opened_from_a_link(seed, q3, tenant_console):
    _seed_jobs(seed, q3)
    at = _open("job-other")
    assert at.selectbox(key="mapping_job_pick").value == "job-wait"
    assert "job-other" not in at.selectbox(key="mapping_job_pick").options


def test_code_in_an_archive_repository_is_named_not_read(seed, q3, tenant_console, tmp_path):
    archive = tmp_path / "tpc.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(q3["input"]["repository"], arcname="tpc")
    _seed_jobs(seed, q3, repository=str(archive))
    at = _open("job-done")
    root = q3["output"]["mappings"][0]
    assert [w.value for w in at.warning] == [
        f"The repository `{archive}` is an archive: the console does not open archives. The code is in "
        f"`{root['path']}`, lines {root['start_line']}-{root['end_line']}, inside it."]
    assert not at.code and at.get("graphviz_chart")


def test_a_role_without_run_read_sees_why(seed, q3, console_role):
    from console.identity import roles_allowed
    from shipway.auth.roles import Action

    console_role("caller")  # reads only the runs its own key started: no console page of the tenant's runs
    _seed_jobs(seed, q3)
    at = _open()
    assert [i.value for i in at.info] == [
        f"Your role **caller** cannot read the tenant's mapping jobs; that takes the {roles_allowed(Action.RUN_READ)} role."]
    assert not at.dataframe


# -- the helpers ---------------------------------------------------------------------------------
def _row(node_id: str, band: str, children: list[str], operator: str = "FILTER", confidence: float = 0.5) -> dict:
    return {"node_id": node_id, "operator": operator, "kind": "filter", "confidence": confidence, "band": band,
            "children": children}


def test_plan_dot_draws_nodes_in_order_filled_by_band_and_edges_parent_to_child():
    dot = plan_dot([_row("n0", "accept", ["n1", "n2"], "TOP_N", 0.9996), _row("n1", "reviewed", []),
                    _row("n2", "review", ["n3"], confidence=0.123), _row("n3", "rejected", []),
                    _row("n4", "from-a-newer-agent", [])])
    assert dot.startswith("digraph plan {\n") and dot.endswith("\n}")
    assert [(n["id"], n["fill"]) for n in NODE_RE.finditer(dot)] == [
        ("n0", BAND_FILLS["accept"]), ("n1", BAND_FILLS["reviewed"]), ("n2", BAND_FILLS["review"]),
        ("n3", BAND_FILLS["rejected"]), ("n4", UNKNOWN_FILL)]
    assert '"n0" [label="TOP_N\\nfilter · 1.00"' in dot and '"n2" [label="FILTER\\nfilter · 0.12"' in dot
    assert [(e["parent"], e["child"]) for e in EDGE_RE.finditer(dot)] == [("n0", "n1"), ("n0", "n2"), ("n2", "n3")]
    assert len(set(BAND_FILLS.values())) == len(BAND_FILLS)  # each band its own colour


def test_plan_dot_escapes_quotes_and_backslashes():
    dot = plan_dot([_row('a"b', "accept", ["c\\d"], operator='SCAN "x"'), _row("c\\d", "accept", [])])
    assert '"a\\"b" [label="SCAN \\"x\\"\\nfilter · 0.50"' in dot
    assert '"a\\"b" -> "c\\\\d";' in dot


def test_excerpt_marks_the_mapped_lines_with_context_clipped_to_the_file():
    source = "\n".join(f"line {i}" for i in range(1, 11))
    middle = excerpt("f.py", source, 5, 6, context=2)
    assert (middle.first, middle.lines) == (3, ("line 3", "line 4", "line 5", "line 6", "line 7", "line 8"))
    assert middle.numbered().splitlines() == ["  3 | line 3", "  4 | line 4", f"{MARK} 5 | line 5", f"{MARK} 6 | line 6",
                                              "  7 | line 7", "  8 | line 8"]
    top, bottom = excerpt("f.py", source, 1, 1), excerpt("f.py", source, 10, 10)
    assert (top.first, len(top.lines), bottom.first, len(bottom.lines)) == (1, 4, 7, 4)
    assert bottom.numbered().splitlines()[-1] == f"{MARK} 10 | line 10"  # numbers right-aligned to the widest
    assert bottom.numbered().splitlines()[0] == "   7 | line 7"
    with pytest.raises(ExcerptUnavailable, match="has 10 lines here, not lines 9-12"):
        excerpt("f.py", source, 9, 12)


def test_read_excerpt_says_why_it_cannot_read(tmp_path):
    repo = tmp_path / "repo"
    (repo / "h").mkdir(parents=True)
    (repo / "h" / "q.py").write_text("a = 1\nb = 2\n")
    (repo / "h" / "blob.py").write_bytes(b"\xff\xfe\x00")
    (tmp_path / "secret.py").write_text("key = 1\n")
    assert read_excerpt(str(repo), "h/q.py", 2, 2).lines == ("a = 1", "b = 2")
    for repository, path, why in [
        ("", "h/q.py", "names no repository"),
        (str(tmp_path / "gone"), "h/q.py", "is not on this machine"),
        (str(repo / "h" / "q.py"), "h/q.py", "is an archive"),
        (str(repo), "../secret.py", "is outside the repository"),
        (str(repo), "h/missing.py", "is not in the repository"),
        (str(repo), "h/blob.py", "cannot be read here"),
    ]:
        with pytest.raises(ExcerptUnavailable, match=why):
            read_excerpt(repository, path, 1, 1)
