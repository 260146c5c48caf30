"""The Grafana dashboard: valid layout, valid PromQL, grump's metrics only, every topic shown."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from .support import (
    REPO_ROOT,
    allowed_metric_names,
    load_yaml,
    promql_metric_names,
    require_tool,
    run_tool,
)

GRAFANA_DIR = REPO_ROOT / "deploy" / "grafana"
DASHBOARD: dict[str, Any] = json.loads((GRAFANA_DIR / "grump-dashboard.json").read_text())
PANELS = [panel for panel in DASHBOARD["panels"] if panel["type"] != "row"]
# Grafana's own variables, replaced by values Prometheus accepts.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__range": "6h", "$__interval": "1m"}

# What an operator must see, and the metric that shows it.
TOPICS = {
    "spend per model": ("llm_cost_usd_total", "model"),
    "cache savings": ("cache_savings_usd_total", None),
    "routing savings": ("model_routing_savings_usd_total", None),
    "queue depth": ("worker_queue_depth", "queue"),
    "latency": ("grump_job_latency_seconds_bucket", None),
    "cache hits by tier": ("tiered_cache_hits_total", "cache_tier"),
    "batch fill": ("batch_processing_requests_total", None),
    "GPU utilisation": ("gpu_utilization_percent", None),
}


def expressions() -> list[str]:
    return [target["expr"] for panel in PANELS for target in panel["targets"]]


def test_panels_have_unique_ids_and_fit_the_grid_without_overlap() -> None:
    ids = [panel["id"] for panel in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in DASHBOARD["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        area = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"])
                for y in range(pos["y"], pos["y"] + pos["h"])}  # fmt: skip
        assert not area & cells, f"{panel['title']} overlaps another panel"
        cells |= area


def test_every_query_goes_to_the_selectable_prometheus() -> None:
    variables = {v["name"]: v for v in DASHBOARD["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for panel in PANELS:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert target["refId"]


def test_dashboard_uses_only_grump_metrics() -> None:
    used: set[str] = set()
    for expr in expressions():
        used |= promql_metric_names(expr)
    assert used <= allowed_metric_names(), sorted(used - allowed_metric_names())


@pytest.mark.parametrize("topic", TOPICS)
def test_dashboard_shows_each_topic(topic: str) -> None:
    metric, grouped_by = TOPICS[topic]
    matching = [expr for expr in expressions() if metric in promql_metric_names(expr)]
    assert matching, f"no panel shows {topic}"
    if grouped_by:
        assert any(re.search(rf"by \([^)]*\b{grouped_by}\b", expr) for expr in matching), topic


def test_every_query_is_valid_promql(tmp_path: Path) -> None:
    """Each panel query becomes a recording rule that promtool parses."""
    promtool = require_tool("promtool")
    rules = []
    for i, expr in enumerate(expressions()):
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, expr
        rules.append({"record": f"grump:dashboard_query_{i}", "expr": expr})
    rules_file = tmp_path / "dashboard-rules.yml"
    rules_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run_tool([promtool, "check", "rules", rules_file])
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(rules)} rules found" in result.stdout


def test_units_of_money_and_time_panels() -> None:
    by_title = {panel["title"]: panel for panel in PANELS}
    assert by_title["Spend per model"]["fieldConfig"]["defaults"]["unit"] == "currencyUSD"
    assert by_title["GPU utilisation"]["fieldConfig"]["defaults"]["unit"] == "percent"
    assert by_title["Job latency (p95)"]["fieldConfig"]["defaults"]["unit"] == "s"


def test_compose_provisions_the_dashboard_where_grafana_looks() -> None:
    provider = load_yaml(GRAFANA_DIR / "provisioning" / "dashboards" / "grump.yml")
    path = provider["providers"][0]["options"]["path"]
    grafana = load_yaml(REPO_ROOT / "docker-compose.yml")["services"]["grafana"]
    mounts = [volume.split(":") for volume in grafana["volumes"]]
    dashboard_mount = next(m for m in mounts if m[0].endswith("grump-dashboard.json"))
    assert Path(dashboard_mount[1]).parent == Path(path)
    datasource = load_yaml(GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml")
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
