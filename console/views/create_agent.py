"""Create agent page: a five-step wizard (identity, behaviour, data and risk, rollout, review) that
builds an agent spec from a built-in template or an uploaded LangGraph project and starts its
lifecycle as the console's identity, then follows the lifecycle until the version waits for an
approver (:mod:`console.progress`). The spec building and the checks of each step live in
:mod:`console.wizard`; this page renders them and keeps the step and the form in the session. A role
that may not submit versions (``version.submit``) can fill in and review the form, but gets no Submit."""

from collections.abc import Callable

import pandas as pd
import psycopg
import streamlit as st
from sqlalchemy.exc import DBAPIError
from streamlit.delta_generator import DeltaGenerator
from temporalio.service import RPCError

from activities.artifact_format import sha256_hex
from activities.artifact_store import store_from_settings
from activities.langgraph_project import ProjectError
from activities.spec_guard import GUARDED_FIELDS
from console import actions, data, wizard
from console.identity import Identity, current_identity
from console.progress import built, follow_lifecycle
from console.ui import role_notice, run_page
from shipway.auth.roles import Action
from shipway.settings import get_settings
from shipway.spec import NAME_RE, SpecError
from workflows.strategies import CUSTOM, KNOWN

DRAFT_KEY = "wizard_draft"
STEP_KEY = "wizard_step"
TRIED_KEY = "wizard_tried"  # steps whose Next or Submit was pressed: their empty required fields are reported too
UPLOAD_KEY = "wizard_upload"  # (SHA-256 of the archive, graph) of the last upload checked
STEPS_BASE_KEY = "wizard_steps_base"
SUBMITTED_KEY = "wizard_submitted"
WIDGET = "wizard:"  # prefix of the inputs' keys (then the Draft attribute an input is bound to)
STEPS_EDITOR_KEY = "wizard_steps_editor"
CODE_LABELS = {wizard.TEMPLATE: "Built-in template", wizard.PROJECT: "LangGraph project archive"}

Slots = dict[str, DeltaGenerator]  # where the errors of each top-level spec field are shown


def _bind(widget: Callable, attr: str, label: str, draft: wizard.Draft, **kwargs) -> None:
    """Render ``widget`` for the draft's ``attr`` and store its value back in the draft.

    Streamlit drops an input's state once a run does not render it (the user moved to another
    step), so the input is re-seeded from the draft whenever its state is gone.
    """
    key = WIDGET + attr
    if key not in st.session_state:
        st.session_state[key] = getattr(draft, attr)
    setattr(draft, attr, widget(label, key=key, **kwargs))


def _indicator(step: int) -> None:
    parts = []
    for i, name in enumerate(wizard.STEPS):
        label = f"{i + 1}. {name}"
        parts.append(f"**{label}**" if i == step else f"✓ {label}" if i < step else label)
    st.markdown(" → ".join(parts))
    st.progress((step + 1) / len(wizard.STEPS), text=f"Step {step + 1} of {len(wizard.STEPS)}: {wizard.STEPS[step]}")


def _identity(draft: wizard.Draft) -> Slots:
    slots: Slots = {}
    _bind(st.text_input, "name", "Name", draft, placeholder="credit-underwriting",
          help="2-63 characters of lowercase letters, digits and '-', starting with a letter. A name that exists gets a new version.")
    slots["name"] = st.container()
    _bind(st.text_input, "owner", "Owner", draft, placeholder="alice@bank.example",
          help="E-mail or user id of who owns the agent. An owner may not approve their own agent.")
    slots["owner"] = st.container()
    _bind(st.text_area, "description", "Description", draft,
          help="What the agent does, at least 10 characters. No personal data: the lifecycle's guard refuses it.")
    slots["description"] = st.container()
    return slots


def _behaviour(draft: wizard.Draft) -> Slots:
    slots: Slots = {}
    _bind(st.radio, "code", "Code", draft, options=list(CODE_LABELS), format_func=CODE_LABELS.get, horizontal=True)
    if draft.code == wizard.TEMPLATE:
        titles = wizard.template_titles()
        _bind(st.selectbox, "template", "Template", draft, options=list(titles), format_func=titles.get, index=None,
              placeholder="Choose a template")
        slots["template"] = st.container()
    else:
        _project(draft)
        slots["source"] = st.container()
    _bind(st.text_input, "model", "Model", draft, placeholder="openai:gpt-4o-mini",
          help="provider:model, or empty to run the agent without a model.")
    slots["model"] = st.container()
    _bind(st.text_area, "system_prompt", "System prompt", draft)
    slots["system_prompt"] = st.container()
    _bind(st.text_input, "tools", "Tools", draft, placeholder="lookup_policy, score_applicant", help="Tool names, comma-separated.")
    slots["tools"] = st.container()
    return slots


def _project(draft: wizard.Draft) -> None:
    """The archive upload, the graph choice when ``langgraph.json`` has several, and the check."""
    # ".gz" rather than ".tar.gz": a browser's file picker matches the last extension only
    uploaded = st.file_uploader("LangGraph project archive (.tar.gz or .tgz)", type=["gz", "tgz"], key=WIDGET + "upload",
                                help="A folder with langgraph.json and shipway.yaml, packed as .tar.gz. Its shipway.yaml "
                                     "pre-fills the form; the form's values are what is submitted.")
    if uploaded is not None:
        content = uploaded.getvalue()
        graphs = wizard.archive_graphs(content)
        graph = None
        if len(graphs) > 1:
            graph = st.selectbox("Graph", graphs, index=None, placeholder="Choose the graph to deploy", key=WIDGET + "graph")
        if st.session_state.get(UPLOAD_KEY) != (sha256_hex(content), graph):
            _check_upload(draft, uploaded.name, content, graph)
    if draft.code == wizard.PROJECT and draft.project:
        p = draft.project
        st.success(f"Checked `{p.filename}`: graph **{p.graph}** (of {', '.join(p.graphs)}), source archive stored as "
                   f"`{data.short_sha(p.archive_sha256)}`.")


def _check_upload(draft: wizard.Draft, filename: str, content: bytes, graph: str | None) -> None:
    """Check the archive once per (content, graph): the outcome stays in the draft."""
    try:
        store = store_from_settings(get_settings())
    except ValueError as exc:  # a misconfigured store: nothing is recorded, so the check runs again once fixed
        st.error(f"The artifact store is misconfigured: {exc}")
        return
    try:
        upload = wizard.check_project(store, filename, content, graph)
    except ProjectError as exc:
        draft.refuse_project(exc.errors)
    except psycopg.OperationalError as exc:
        raise data.DatabaseUnavailable(f"cannot reach the artifact store: {exc}") from exc
    else:
        # inputs shipway.yaml pre-filled take the draft's new values (they are rendered below)
        for attr in draft.use_project(upload):
            st.session_state.pop(WIDGET + attr, None)
    st.session_state[UPLOAD_KEY] = (sha256_hex(content), graph)


def _data_and_risk(draft: wizard.Draft) -> Slots:
    _bind(st.radio, "data_classification", "Data classification", draft, options=list(wizard.CLASSIFICATIONS), horizontal=True,
          help="The most sensitive data the agent handles.")
    slots: Slots = {"data_classification": st.container()}
    st.markdown("**Guard findings** in the description and system prompt (the lifecycle's guard step refuses a spec with PII)")
    slots.update(dict.fromkeys(GUARDED_FIELDS, st.container()))
    return slots


def _rollout(draft: wizard.Draft) -> Slots:
    _bind(st.selectbox, "strategy", "Strategy", draft, options=list(KNOWN),
          format_func=lambda s: f"{s}: your own steps" if s == CUSTOM else f"{s}: {wizard.strategy_summary(s)}")
    if draft.strategy == CUSTOM:
        # The editor's edits are relative to the table it was first given: keep that table while it lives.
        if STEPS_EDITOR_KEY not in st.session_state:
            st.session_state[STEPS_BASE_KEY] = [dict(s) for s in draft.steps]
        edited = st.data_editor(
            pd.DataFrame(st.session_state[STEPS_BASE_KEY], columns=["weight_pct", "bake_s"]), key=STEPS_EDITOR_KEY,
            num_rows="dynamic", hide_index=True,
            column_config={"weight_pct": st.column_config.NumberColumn("weight (%)", help="Percent of traffic to the new version"),
                           "bake_s": st.column_config.NumberColumn("bake (s)", help="Seconds to watch before the next step")})
        draft.steps = wizard.custom_steps(edited.to_dict("records"))
    _bind(st.radio, "target", "Target", draft, options=list(wizard.TARGETS), horizontal=True,
          format_func=lambda t: t if t in wizard.AVAILABLE_TARGETS else f"{t} (not available yet)")
    return {"deployment": st.container()}


def _review(draft: wizard.Draft) -> Slots:
    spec = wizard.build_spec(draft)
    st.code(wizard.spec_yaml(draft), language="yaml")
    identity = current_identity()
    if NAME_RE.match(spec["name"]) and identity.may(Action.VERSION_SUBMIT):
        st.caption(f"Submitting starts version {data.next_version(spec['name'])} of **{spec['name']}** as "
                   f"**{identity.name or '(nobody: enter a name in the sidebar)'}**.")
    for field, theirs, ours in wizard.overridden(draft):
        st.caption(f"The form's `{field}` replaces shipway.yaml's: `{theirs}` → `{ours}`.")
    return {}


RENDERERS: tuple[Callable[[wizard.Draft], Slots], ...] = (_identity, _behaviour, _data_and_risk, _rollout, _review)


def _show(errors: list[wizard.FieldError], slots: Slots, general: DeltaGenerator, draft: wizard.Draft, show_all: bool) -> None:
    """Each error under its field (or above the form), naming the field; before Next is pressed only
    the errors of inputs the user has filled in, so an untouched form is not shown as wrong."""
    for e in errors:
        if show_all or draft.touched(e.top):
            slots.get(e.top, general).error(f"`{e.field}`: {e.message}")


def _submit(draft: wizard.Draft, identity: Identity) -> str:
    """Start the lifecycle as ``identity``; on success remember the result and show it (a rerun,
    so nothing returns). Returns why nothing was submitted otherwise."""
    if not identity.name:
        return "Enter an operator name in the sidebar first: the submission is recorded under it."
    try:
        with st.spinner("Starting the lifecycle..."):
            name, version, workflow_id = actions.submit(identity, wizard.build_spec(draft))
    except SpecError as exc:
        return f"Submit refused: {exc}"
    except DBAPIError as exc:
        raise data.DatabaseUnavailable(f"cannot reach the database: {exc.orig}") from exc
    except (RPCError, RuntimeError) as exc:
        return f"Could not start the lifecycle: {exc}"
    _reset()
    st.session_state[SUBMITTED_KEY] = (name, version, workflow_id, identity.name)
    st.rerun()


def _reset() -> None:
    for key in (DRAFT_KEY, STEP_KEY, TRIED_KEY, UPLOAD_KEY, STEPS_BASE_KEY, SUBMITTED_KEY):
        st.session_state.pop(key, None)


def _submitted(name: str, version: int, workflow_id: str, operator: str) -> None:
    """The submission, and its lifecycle followed until the version is built and waits for an approver."""
    st.success(f"Submitted {name} v{version} as {operator}. Its lifecycle validates, guards and builds it, then waits for approval.")
    st.markdown(f"[Open the lifecycle workflow `{workflow_id}` in the Temporal UI]({get_settings().workflow_url(workflow_id)})")
    progress = st.container()
    st.page_link("views/approvals.py", label="Approvals: approve or reject it once it is built", icon=":material/approval:")
    if st.button("Create another agent", key="wizard_again"):
        _reset()
        st.rerun()
    with progress:  # after the button, so a click on it never waits for the lifecycle
        follow_lifecycle(name, version, built, link=False)


def body() -> None:
    """The Create agent page: the wizard's current step, its errors, and Back / Next (Submit at the
    end, for a role that may submit)."""
    st.title("Create agent")
    identity = current_identity()
    may_submit = identity.may(Action.VERSION_SUBMIT)
    if not may_submit:
        role_notice(identity, Action.VERSION_SUBMIT, "submit agents (you may fill in and review the form)")
    if SUBMITTED_KEY in st.session_state:
        _submitted(*st.session_state[SUBMITTED_KEY])
        return
    draft = st.session_state.setdefault(DRAFT_KEY, wizard.Draft())
    step = st.session_state.setdefault(STEP_KEY, wizard.IDENTITY)
    tried = st.session_state.setdefault(TRIED_KEY, set())
    _indicator(step)
    general = st.container()
    slots = RENDERERS[step](draft)
    errors = wizard.step_errors(draft, step)

    back_col, next_col = st.columns(2)
    if back_col.button("Back", key="wizard_back", disabled=step == wizard.IDENTITY):
        st.session_state[STEP_KEY] = step - 1
        st.rerun()
    last = step == wizard.REVIEW
    forward = not last or may_submit  # the last step's button is Submit
    if forward and next_col.button("Submit" if last else "Next", key="wizard_submit" if last else "wizard_next", type="primary"):
        tried.add(step)
        if not errors:
            if last:
                general.error(_submit(draft, identity))
            else:
                st.session_state[STEP_KEY] = step + 1
                st.rerun()
    _show(errors, slots, general, draft, show_all=step in tried or last)
    if step == wizard.DATA_AND_RISK and not any(e.top in GUARDED_FIELDS for e in errors):
        slots[GUARDED_FIELDS[0]].success("No PII found in the description or system prompt.")


run_page(body)
