"""Prometheus config and alert rules: promtool checks them, and their unit tests pass."""

from __future__ import annotations

from typing import Any

import pytest

from grump import metrics

from .support import (
    HISTOGRAMS,
    METRIC_NAMES,
    REPO_ROOT,
    allowed_metric_names,
    load_yaml,
    promql_label_names,
    promql_metric_names,
    require_tool,
    run_tool,
)

PROMETHEUS_DIR = REPO_ROOT / "deploy" / "prometheus"
ALERTS = PROMETHEUS_DIR / "alerts.yml"
ALERT_TESTS = REPO_ROOT / "tests" / "ops" / "alerts_test.yml"
EXPECTED_ALERTS = {
    "GrumpQueueDepthGrowing",
    "GrumpJobFailureRateHigh",
    "GrumpBudgetOverThreshold",
    "GrumpBeatHeartbeatMissing",
    "GrumpProviderErrorRateHigh",
}


def alert_rules() -> list[dict[str, Any]]:
    groups = load_yaml(ALERTS)["groups"]
    return [rule for group in groups for rule in group["rules"]]


def grump_metric_families() -> dict[str, tuple[str, frozenset[str]]]:
    """Exposed name -> (type, labels) of every metric grump.metrics defines."""
    families = {}
    for value in vars(metrics).values():
        # _name, _type and _labelnames are what prometheus_client exposes; no public API.
        name = getattr(value, "_name", None)
        kind = getattr(value, "_type", None)
        if name is None or kind is None:
            continue
        exposed = f"{name}_total" if kind == "counter" else name
        families[exposed] = (kind, frozenset(getattr(value, "_labelnames", ())))
    return families


def test_promtool_accepts_the_config_and_its_rule_files() -> None:
    promtool = require_tool("promtool")
    result = run_tool([promtool, "check", "config", PROMETHEUS_DIR / "prometheus.yml"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout


def test_promtool_accepts_the_alert_rules() -> None:
    promtool = require_tool("promtool")
    result = run_tool([promtool, "check", "rules", ALERTS])
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(EXPECTED_ALERTS)} rules found" in result.stdout


def test_alerts_fire_when_they_should_and_only_then() -> None:
    """promtool runs tests/ops/alerts_test.yml against the rules."""
    promtool = require_tool("promtool")
    result = run_tool([promtool, "test", "rules", ALERT_TESTS])
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_five_operator_alerts_exist_with_severity_and_summary() -> None:
    rules = alert_rules()
    assert {rule["alert"] for rule in rules} == EXPECTED_ALERTS
    for rule in rules:
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert rule["annotations"]["description"], rule["alert"]


def test_every_alert_is_unit_tested_firing() -> None:
    tests = load_yaml(ALERT_TESTS)["tests"]
    fired = {
        case["alertname"]
        for test in tests
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    quiet = {
        case["alertname"]
        for test in tests
        for case in test.get("alert_rule_test", [])
        if not case.get("exp_alerts")
    }
    assert fired == EXPECTED_ALERTS
    assert quiet == EXPECTED_ALERTS


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: str(rule["alert"]))
def test_alerts_use_only_grump_metrics_and_their_labels(rule: dict[str, Any]) -> None:
    names = promql_metric_names(rule["expr"])
    assert names, rule["expr"]
    assert names <= allowed_metric_names(), names - allowed_metric_names()
    families = grump_metric_families()
    labels: set[str] = set()
    for name in names:
        base = next((h for h in HISTOGRAMS if name.startswith(h)), name)
        labels |= families[base][1]
    assert promql_label_names(rule["expr"]) - {"le"} <= labels


def test_metric_list_matches_grump_metrics() -> None:
    """The names tests/ops allows are the ones grump/metrics.py defines."""
    families = grump_metric_families()
    missing = METRIC_NAMES - set(families)
    assert not missing, f"not defined in grump/metrics.py: {sorted(missing)}"
    for name in HISTOGRAMS:
        assert families[name][0] == "histogram", name
