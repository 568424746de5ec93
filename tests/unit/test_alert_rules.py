"""The shipped monitoring files, checked with Prometheus's own ``promtool`` (Debian's prometheus
package): the alert rules parse, their unit tests pass and cover every alert both firing and silent,
the example scrape config is valid, and the Grafana dashboard is JSON whose every query parses and
reads only metrics Shipway or Temporal's SDK export."""

from __future__ import annotations

import shutil

import pytest
import yaml

from tests.support.monitoring import (ALERTS, ALERTS_TEST, PROMETHEUS_EXAMPLE, TEMPORAL_SDK_METRICS, alert_rules, dashboard,
                                      dashboard_exprs, exported_metric_names, metric_names, promtool, recording_rules_file)


def test_the_alert_rules_parse():
    r = promtool("check", "rules", str(ALERTS))
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in r.stdout


def test_the_alert_unit_tests_pass():
    r = promtool("test", "rules", ALERTS_TEST.name, cwd=ALERTS_TEST.parent)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout


def test_every_alert_has_a_unit_test_where_it_fires_and_one_where_it_stays_silent():
    cases = [case for test in yaml.safe_load(ALERTS_TEST.read_text())["tests"] for case in test.get("alert_rule_test", [])]
    fires = {c["alertname"] for c in cases if c.get("exp_alerts")}
    silent = {c["alertname"] for c in cases if not c.get("exp_alerts")}
    alerts = set(alert_rules())
    assert alerts == fires, f"no firing test for {alerts - fires}; tests of unknown alerts {fires - alerts}"
    assert alerts == silent, f"no silent test for {alerts - silent}"


def test_the_unit_tests_catch_a_wrong_threshold(tmp_path):
    """A success-rate alert that fires only below 50% fails the unit tests (they test the threshold, not just the syntax)."""
    broken = ALERTS.read_text().replace("< 0.95", "< 0.5")
    assert broken != ALERTS.read_text()
    (tmp_path / "alerts.yml").write_text(broken)
    shutil.copy(ALERTS_TEST, tmp_path / "alerts_test.yml")
    r = promtool("test", "rules", "alerts_test.yml", cwd=tmp_path)
    assert r.returncode != 0 and "ShipwayRunSuccessRateLow" in r.stdout + r.stderr


def test_alerts_read_only_metrics_shipway_exports():
    exported = exported_metric_names() | {"up"}  # up: Prometheus's own, per scrape target
    for name, rule in alert_rules().items():
        unknown = metric_names(rule["expr"]) - exported
        assert not unknown, f"{name} reads {unknown}, which nothing exports"


def test_the_example_scrape_config_is_valid(tmp_path):
    shutil.copy(PROMETHEUS_EXAMPLE, tmp_path / "prometheus.yml")
    shutil.copy(ALERTS, tmp_path / "alerts.yml")
    (tmp_path / "shipway-metrics.key").write_text("sk_example\n")  # the key file it names
    r = promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    jobs = {j["job_name"] for j in yaml.safe_load(PROMETHEUS_EXAMPLE.read_text())["scrape_configs"]}
    assert jobs == {"shipway-gateway", "shipway-worker", "shipway-temporal-sdk"}


def test_metric_names_are_read_from_promql():
    expr = ('sum by (agent) (rate(a_total{status="x",route="/v1/{name}"}[5m])) / on (agent) group_left b '
            '> 0.5 and histogram_quantile(0.95, sum by (le) (rate(c_bucket[$__rate_interval]))) offset 1m or vector(1)')
    assert metric_names(expr) == {"a_total", "b", "c_bucket"}


def test_the_dashboard_is_importable_grafana_json():
    d = dashboard()
    assert d["uid"] == "shipway-platform" and d["title"] and isinstance(d["schemaVersion"], int)
    panels = [p for p in d["panels"] if p["type"] != "row"]
    assert panels and all(p["targets"] and p["datasource"]["uid"] == "${datasource}" for p in panels)
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for p in d["panels"]:
        pos = p["gridPos"]
        assert pos["x"] + pos["w"] <= 24 and pos["h"] > 0, p["title"]
    assert {v["name"] for v in d["templating"]["list"]} == {"datasource", "agent"}


def test_every_dashboard_query_parses(tmp_path):
    exprs = dashboard_exprs()
    assert not any("$" in e for e in exprs.values()), "a Grafana variable was left in a query"
    r = promtool("check", "rules", str(recording_rules_file(exprs, tmp_path / "dashboard_rules.yml")))
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in r.stdout


def test_a_query_that_does_not_parse_is_caught(tmp_path):
    r = promtool("check", "rules", str(recording_rules_file({"bad": "sum by (agent (rate(x[5m]))"}, tmp_path / "bad.yml")))
    assert r.returncode != 0


@pytest.mark.parametrize("key", sorted(dashboard_exprs()))
def test_dashboard_queries_read_only_exported_metrics(key):
    names = metric_names(dashboard_exprs()[key])
    assert names, f"{key} reads no metric"
    unknown = names - exported_metric_names() - TEMPORAL_SDK_METRICS
    assert not unknown, f"{key} reads {unknown}, which neither Shipway nor the Temporal SDK exports"


def test_the_dashboard_covers_every_kpi():
    read = set().union(*(metric_names(e) for e in dashboard_exprs().values()))
    for name in ("shipway_runs_finished_total", "shipway_run_duration_seconds_bucket", "shipway_queue_wait_seconds_bucket",
                 "shipway_http_requests_total", "shipway_http_request_duration_seconds_bucket", "shipway_llm_tokens_total",
                 "shipway_llm_cost_usd_total", "shipway_guard_blocks_total", "shipway_db_pool_in_use_connections",
                 "shipway_db_pool_max_connections", "shipway_task_queue_backlog_tasks", "shipway_agent_daily_budget_used_ratio"):
        assert name in read, f"no panel shows {name}"
