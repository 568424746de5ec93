"""The shipped monitoring files (``monitoring/``) for tests: the dashboard's PromQL, the metric
names an expression reads, the names Shipway exports, and Debian's ``promtool``/``prometheus``."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "monitoring"
ALERTS = MONITORING / "prometheus" / "alerts.yml"
ALERTS_TEST = MONITORING / "prometheus" / "alerts_test.yml"
PROMETHEUS_EXAMPLE = MONITORING / "prometheus" / "prometheus.yml"
DASHBOARD = MONITORING / "grafana" / "shipway-dashboard.json"

# The Temporal SDK metrics the dashboard reads, as the SDK runtime names them with
# shipway.temporal.prometheus_runtime's options (temporalio 1.35; see Temporal's "SDK metrics" reference).
# tests/integration/test_prometheus.py checks each against a live worker's SDK endpoint.
TEMPORAL_SDK_METRICS = frozenset({
    "temporal_workflow_task_schedule_to_start_latency_seconds_bucket",
    "temporal_activity_schedule_to_start_latency_seconds_bucket",
    "temporal_worker_task_slots_used",
})

# Grafana's variables, replaced by what they stand for so that Prometheus can parse the expression.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$agent": ".*"}

_PROMQL_WORDS = frozenset({"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left",
                           "group_right", "inf", "nan"})


def binary(name: str) -> str:
    """Path of a Debian-packaged binary (``promtool``, ``prometheus``; ``make sysdeps`` installs them).

    Raises:
        RuntimeError: not installed.
    """
    found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if not found:
        raise RuntimeError(f"{name} is not installed: run `make sysdeps` (Debian package prometheus)")
    return found


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``promtool args`` (60 s at most); the result carries its exit code and text output."""
    return subprocess.run([binary("promtool"), *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def dashboard() -> dict:
    """The Grafana dashboard, parsed."""
    return json.loads(DASHBOARD.read_text())


def dashboard_exprs(with_variables_replaced: bool = True) -> dict[str, str]:
    """Every PromQL expression of the dashboard (panel targets and query variables), keyed
    ``"<panel title> / <refId>"``; Grafana's variables replaced by :data:`GRAFANA_VARIABLES`."""
    d = dashboard()
    exprs = {f"{p['title']} / {t['refId']}": t["expr"] for p in d["panels"] for t in p.get("targets", [])}
    for var in d["templating"]["list"]:
        if var["type"] == "query":
            exprs[f"variable {var['name']}"] = re.sub(r"^label_values\((\w+),\s*\w+\)$", r"\1", var["definition"])
    if with_variables_replaced:
        for key, expr in exprs.items():
            for var, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(var, value)
            exprs[key] = expr
    return exprs


def alert_rules() -> dict[str, dict]:
    """The alerting rules of ``alerts.yml`` by alert name."""
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (strings, label matchers, ranges, grouping
    labels, functions, keywords and numbers left out). Meant for expressions that already parse."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for m in re.finditer(r"(?<![\w.:])([a-zA-Z_:][\w:]*)(\s*\()?", text):
        if not m.group(2) and m.group(1).lower() not in _PROMQL_WORDS:
            names.add(m.group(1))
    return names


def exported_metric_names() -> set[str]:
    """Every sample name Shipway's processes may expose (default registry after importing the
    gateway's and the workers' metrics): ``_total`` of counters, ``_bucket``/``_sum``/``_count`` of
    histograms, gauges as named; with the Prometheus client's process and platform metrics."""
    import shipway.gateway.metrics  # noqa: F401  (registers the gateway's metrics)
    import shipway.metrics  # noqa: F401
    from prometheus_client import REGISTRY

    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count"),
                "gauge": ("",), "info": ("_info",)}
    return {family.name + s for family in REGISTRY.collect() for s in suffixes.get(family.type, ("",))}


def recording_rules_file(exprs: dict[str, str], path: Path) -> Path:
    """Write ``exprs`` as recording rules (``dashboard:expr_<n>``) to ``path``, for ``promtool check rules``."""
    rules = [{"record": f"dashboard:expr_{i}", "expr": e} for i, e in enumerate(exprs.values())]
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, sort_keys=False))
    return path
