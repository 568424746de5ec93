"""Deployments page: every rollout (newest first) and, for the one picked, its steps and state, its
traffic weights over time (from its ``deployment.weights`` audit events), its canary analyses (one
row each, breaches and inconclusive ones called out with their reasons, and a chart per metric of
the canary against the stable version and the threshold) and its audit events.

While a rollout is in progress or paused, its progress bar follows the workflow's ``progress``
query (refreshed every few seconds, :mod:`console.progress`), and a role that may deploy
(``version.deploy``: admin, operator) gets Promote / Pause / Resume / Abort buttons; each sends the
signal to the rollout's workflow, which records it under the operator's name and acts on it (a
pause takes effect before the next step). Other roles see the page read-only, with a notice saying
why."""

from datetime import datetime

import altair as alt
import pandas as pd
import streamlit as st
from temporalio.service import RPCError

from console import actions, data
from console.identity import Identity, NotAllowed, current_identity
from console.progress import rollout_progress
from console.ui import role_notice, run_page
from shipway.auth.roles import Action
from shipway.control import ActionRefused
from shipway.db.models import utcnow
from workflows.statuses import CanaryVerdict, DeploymentState

FLASH_KEY = "deployment_flash"
PICK_KEY = "deployment_pick"
QUERY_PARAM = "deployment"
FLASH = {"success": st.success, "warning": st.warning, "error": st.error}
LABELS = {"promote": "Promote", "pause": "Pause", "resume": "Resume", "abort": "Abort"}
HELP = {
    "promote": "Cut the bakes short: the rollout goes on to 100% without waiting (each remaining step is still analysed, "
               "and a breach still rolls it back).",
    "pause": "Hold the rollout before its next step; the current step's bake and analysis finish first.",
    "resume": "Go on after a pause.",
    "abort": "Roll back: traffic returns to the stable version.",
}
OUTCOME = {
    "promote": "the bakes are cut short and the rollout goes on to 100%; a breach found by an analysis still rolls it back",
    "pause": "the rollout holds before its next step (the current step's bake and analysis finish first)",
    "resume": "the rollout goes on",
    "abort": "the rollout rolls back to the stable version",
}
# verdict colours: the table's cells and the canary's bars
VERDICT_COLOURS = {CanaryVerdict.PASS: "#2e7d32", CanaryVerdict.BREACH: "#c62828", CanaryVerdict.INCONCLUSIVE: "#ef6c00",
                   CanaryVerdict.NOT_JUDGED: "#9e9e9e"}
VERDICT_CELLS = {CanaryVerdict.BREACH: "background-color: #ffcdd2", CanaryVerdict.INCONCLUSIVE: "background-color: #ffe0b2"}
STABLE_COLOUR = "#90a4ae"
THRESHOLD_COLOUR = "#b71c1c"
# metric -> (title, unit, factor from the stored value to the unit shown)
METRICS = {
    "error_rate": ("Error rate", "%", 100.0),
    "p99_latency": ("p99 latency", "ms", 1.0),
    "violation_rate": ("Guardrail-violation rate", "%", 100.0),
    "cost_per_run": ("Cost per run", "USD", 1.0),
}
RATES = ("error_rate", "violation_rate")


def _show_flash() -> None:
    flash = st.session_state.pop(FLASH_KEY, None)
    if flash:
        kind, message = flash
        FLASH[kind](message)


def _when(ts: datetime | None) -> str:
    return f"{ts:%Y-%m-%d %H:%M:%S} UTC" if ts is not None else "-"


def _signal(identity: Identity, r: data.Rollout, action: str) -> tuple[str, str]:
    """Send ``action`` to the rollout and return ``(kind, message)`` for the flash shown after the rerun."""
    d = r.deployment
    if not identity.name:
        return "error", "Enter an operator name in the sidebar first."
    what = f"{LABELS[action]} of {d.agent_name} v{d.version}"
    try:
        actions.signal_deployment(identity, d.agent_name, d.version, action)
    except NotAllowed as exc:
        return "error", f"{what} not sent: {exc}"
    except ActionRefused as exc:
        return "error", f"{what} refused: {exc.reason}"
    except (RPCError, RuntimeError) as exc:
        return "error", f"Could not signal {d.workflow_id}: {exc}"
    return "success", f"{what} sent by {identity.name}: {OUTCOME[action]}."


def _controls(r: data.Rollout, identity: Identity) -> None:
    """Promote / Pause / Resume / Abort for a rollout that still takes signals, to a role that may deploy."""
    if not r.active:
        return
    if not identity.may(Action.VERSION_DEPLOY):
        role_notice(identity, Action.VERSION_DEPLOY, "promote, pause, resume or abort rollouts")
        return
    d = r.deployment
    paused = d.status == DeploymentState.PAUSED
    disabled = {"pause": paused or r.pending_pause is not None, "resume": not paused and r.pending_pause is None}
    clicked = None
    with st.container(horizontal=True):
        for action, label in LABELS.items():
            if st.button(label, key=f"deploy_{action}:{d.workflow_id}", help=HELP[action], disabled=disabled.get(action, False),
                         type="primary" if action == "promote" else "secondary"):
                clicked = action
    st.caption(f"Sent as **{identity.name or '(nobody: enter a name in the sidebar)'}**; the workflow records each signal "
               "in the audit log.")
    if clicked:
        st.session_state[FLASH_KEY] = _signal(identity, r, clicked)
        st.rerun()


def _state(r: data.Rollout) -> None:
    d = r.deployment
    st.markdown(" · ".join((
        f"State **{d.status}**", f"strategy `{d.strategy}`", f"target `{d.target}`",
        f"v{d.version} at **{d.weight_pct:g}%**",
        f"stable v{r.stable_version}" if r.stable_version is not None else "no stable version",
        f"started {_when(d.created_at)}", *([f"finished {_when(d.finished_at)}"] if d.finished_at else []),
        f"[workflow {d.workflow_id}]({r.workflow_url})",
    )))
    if d.status == DeploymentState.ROLLED_BACK:
        st.error(f"Rolled back: {d.detail or '(no reason recorded)'}")
    elif d.status == DeploymentState.ABORTED:
        st.warning(f"Aborted: {d.detail or '(no reason recorded)'}")
    elif d.status == DeploymentState.FAILED:
        st.error(f"Failed: {d.detail or '(no reason recorded)'}")
    elif d.detail:
        st.caption(d.detail)
    if r.pending_pause:
        actor, ts = r.pending_pause
        st.info(f"Pause sent by {actor} at {_when(ts)}: the rollout holds before its next step "
                "(the current step's bake and analysis finish first).")


def _steps(r: data.Rollout) -> None:
    st.markdown("**Steps**")
    if not r.steps:
        st.caption("No steps known: the strategy is unknown and the rollout set no weights.")
        return
    st.dataframe(
        pd.DataFrame([vars(s) for s in r.steps]),
        hide_index=True,
        key=f"steps:{r.deployment.workflow_id}",
        column_config={
            "weight_pct": st.column_config.NumberColumn("weight (%)", format="%g"),
            "bake_s": st.column_config.NumberColumn("bake (s)", format="%g", help="As planned, before bake_time_scale"),
            "reached_at": st.column_config.DatetimeColumn("reached (UTC)"),
            "last_verdict": st.column_config.TextColumn("last verdict"),
        },
    )


def _weights(r: data.Rollout) -> None:
    st.markdown("**Traffic weights over time**")
    weights = r.weights
    if weights.empty:
        st.caption("No weights set yet.")
        return
    weights = weights.assign(series=[f"v{v} ({role})" for v, role in zip(weights["version"], weights["role"])])
    if r.active:  # the last weights hold until now
        last = weights[weights["ts"] == weights["ts"].max()]
        weights = pd.concat([weights, last.assign(ts=utcnow(), event="now")], ignore_index=True)
    chart = alt.Chart(weights).mark_line(interpolate="step-after", point=True).encode(
        x=alt.X("ts:T", title="time (UTC)", scale=alt.Scale(type="utc")),
        y=alt.Y("weight_pct:Q", title="traffic (%)", scale=alt.Scale(domain=[0, 100])),
        color=alt.Color("series:N", title="version"),
        tooltip=[alt.Tooltip("ts:T", title="time (UTC)", format="%Y-%m-%d %H:%M:%S"), "series:N", "weight_pct:Q", "event:N"],
    ).properties(title="Traffic weights", height=220)
    st.altair_chart(chart, key=f"weights_chart:{r.deployment.workflow_id}")


def _highlight(value) -> str:
    return VERDICT_CELLS.get(value, "")


def _analysis_notes(r: data.Rollout, metrics: pd.DataFrame) -> None:
    """A breach with its reasons, an inconclusive analysis with the metrics that lacked runs."""
    for a in r.analyses:
        where = f"Analysis #{a.analysis_index} (step {a.step_index + 1}, {a.weight_pct:g}% of traffic)"
        if a.verdict == CanaryVerdict.BREACH:
            st.error(f"{where}: **breach**\n" + "\n".join(f"- {reason}" for reason in a.reasons or ["(no reason recorded)"]))
        elif a.verdict == CanaryVerdict.INCONCLUSIVE:
            short = metrics[(metrics["analysis"] == a.analysis_index) & (metrics["verdict"] == CanaryVerdict.INCONCLUSIVE)]
            lines = [f"- `{m.metric}`: {m.threshold_text}" for m in short.itertuples()] or ["- (no metric recorded)"]
            st.warning(f"{where}: **inconclusive**, too few runs to judge\n" + "\n".join(lines))


def _metric_chart(r: data.Rollout, metrics: pd.DataFrame, metric: str) -> None:
    title, unit, factor = METRICS[metric]
    rows = metrics[metrics["metric"] == metric]
    if rows.empty:
        return
    canary, stable = f"canary v{r.deployment.version}", f"stable v{r.stable_version}" if r.stable_version is not None else "stable"
    labels = [f"#{a} · step {s} · {w:g}%" for a, s, w in zip(rows["analysis"], rows["step"], rows["weight_pct"])]

    def scaled(column: str) -> list[float | None]:
        return [None if pd.isna(v) else v * factor for v in rows[column]]

    bars = pd.DataFrame({"analysis": labels * 2, "series": [canary] * len(rows) + [stable] * len(rows),
                         "value": scaled("canary") + scaled("stable"),
                         "colour": [f"canary: {v}" for v in rows["verdict"]] + ["stable"] * len(rows),
                         "threshold": rows["threshold_text"].tolist() * 2, "verdict": rows["verdict"].tolist() * 2})
    lines = pd.DataFrame({"analysis": labels, "threshold_value": scaled("threshold"), "threshold": rows["threshold_text"]})
    colours = {f"canary: {v}": c for v, c in VERDICT_COLOURS.items()} | {"stable": STABLE_COLOUR}
    x = alt.X("analysis:N", sort=labels, title=None)
    layers = [alt.Chart(bars).mark_bar().encode(
        x=x, xOffset=alt.XOffset("series:N", sort=[canary, stable]), y=alt.Y("value:Q", title=unit),
        color=alt.Color("colour:N", title=None, scale=alt.Scale(domain=list(colours), range=list(colours.values()))),
        tooltip=["analysis:N", "series:N", alt.Tooltip("value:Q", format=".4~f"), "verdict:N", "threshold:N"])]
    if lines["threshold_value"].notna().any():
        layers.append(alt.Chart(lines.dropna(subset=["threshold_value"])).mark_tick(color=THRESHOLD_COLOUR, thickness=3).encode(
            x=x, y="threshold_value:Q", tooltip=["analysis:N", alt.Tooltip("threshold_value:Q", title=f"threshold ({unit})",
                                                                          format=".4~f"), "threshold:N"]))
    st.altair_chart(alt.layer(*layers).properties(title=f"{title} ({unit})", height=220),
                    key=f"metric_chart:{r.deployment.workflow_id}:{metric}")
    note = "red tick: threshold"
    if metric in RATES:
        note += " (of a one-sided significance test: an observed rate above it on few runs may still pass)"
    st.caption(f"{note}. Latest: {rows['threshold_text'].iloc[-1]}")


def _analyses(r: data.Rollout) -> None:
    st.markdown("**Canary analyses**")
    if not r.analyses:
        st.caption("No canary analyses yet (a step is analysed after its bake, when there is a stable version to compare with).")
        return
    table = data.analyses_frame(r.analyses)
    st.dataframe(
        table.style.map(_highlight, subset=["verdict", *data.CANARY_METRICS]),
        hide_index=True,
        key=f"analyses:{r.deployment.workflow_id}",
        column_config={
            "weight_pct": st.column_config.NumberColumn("weight (%)", format="%g"),
            "window_start": st.column_config.DatetimeColumn("window from (UTC)"),
            "analysed_at": st.column_config.DatetimeColumn("analysed (UTC)"),
            "canary_finished": st.column_config.NumberColumn("canary runs", help="Finished runs of the canary in the window"),
            "stable_finished": st.column_config.NumberColumn("stable runs", help="Finished runs of the stable version"),
        },
    )
    metrics = data.metric_frame(r.analyses)
    _analysis_notes(r, metrics)
    charted = [m for m in METRICS if (metrics["metric"] == m).any()]
    for i in range(0, len(charted), 2):
        for column, metric in zip(st.columns(2), charted[i:i + 2]):
            with column:
                _metric_chart(r, metrics, metric)
    with st.expander("Metric values"):
        st.dataframe(metrics, hide_index=True, key=f"metrics:{r.deployment.workflow_id}")


def _detail(rollouts: pd.DataFrame, identity: Identity) -> None:
    ids = rollouts["workflow_id"].tolist()
    labels = {row.workflow_id: f"{row.agent} v{row.version} · {row.state} · {row.strategy}" for row in rollouts.itertuples()}
    wanted = st.query_params.get(QUERY_PARAM)
    index = ids.index(wanted) if wanted in ids else 0
    wf_id = st.selectbox("Rollout", ids, index=index, format_func=labels.get, key=PICK_KEY)
    st.query_params[QUERY_PARAM] = wf_id
    row = rollouts[rollouts["workflow_id"] == wf_id].iloc[0]
    r = data.rollout(row["agent"], int(row["version"]))
    if r is None:
        st.warning(f"Rollout {wf_id} no longer exists.")
        return
    st.subheader(f"{r.deployment.agent_name} v{r.deployment.version}")
    _state(r)
    if r.active:
        rollout_progress(r.deployment.agent_name, r.deployment.version, sum(s.status == "done" for s in r.steps), len(r.steps))
    _controls(r, identity)
    _steps(r)
    _weights(r)
    _analyses(r)
    with st.expander("Audit events of this rollout"):
        if r.events.empty:
            st.caption("No audit events.")
        else:
            st.dataframe(r.events, hide_index=True, key=f"events:{wf_id}",
                         column_config={"ts": st.column_config.DatetimeColumn("time (UTC)")})


def body() -> None:
    """The Deployments page: the rollouts, newest first, then the picked one's detail and controls."""
    st.title("Deployments")
    identity = current_identity()
    _show_flash()
    rollouts = data.deployments_frame()
    if rollouts.empty:
        st.info("No rollouts yet.")
        st.caption("A version's rollout starts once it is approved; its steps follow the spec's `deployment.strategy`.")
        return
    st.dataframe(
        rollouts,
        hide_index=True,
        key="deployments_table",
        column_order=["agent", "version", "strategy", "target", "state", "weight_pct", "started", "finished", "detail", "workflow"],
        column_config={
            "weight_pct": st.column_config.ProgressColumn("weight (%)", min_value=0, max_value=100, format="%.0f%%",
                                                          help="The new version's share of the agent's traffic"),
            "started": st.column_config.DatetimeColumn("started (UTC)"),
            "finished": st.column_config.DatetimeColumn("finished (UTC)"),
            "workflow": st.column_config.LinkColumn("workflow", display_text="open in Temporal UI"),
        },
    )
    _detail(rollouts, identity)


run_page(body)
