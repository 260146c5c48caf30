"""The PromQL readers the dashboard and alert checks rely on: a reader that found
nothing would let any query pass."""

from __future__ import annotations

from .support import promql_label_names, promql_metric_names


def test_metric_names_leave_out_functions_keywords_labels_and_variables() -> None:
    expr = (
        "histogram_quantile(0.95, sum by (le, tier) (rate(grump_job_latency_seconds_bucket"
        '{kind="embed", tier=~"gpu|cpu"}[$__rate_interval])))'
        " / ignoring (tier) group_left sum(rate(llm_cost_usd_total[5m] offset 1h))"
        " and on (queue) max(worker_queue_depth) > 1e3 or vector(0)"
    )
    assert promql_metric_names(expr) == {
        "grump_job_latency_seconds_bucket",
        "llm_cost_usd_total",
        "worker_queue_depth",
    }


def test_metric_names_find_a_bare_selector_and_absent() -> None:
    assert promql_metric_names("gpu_utilization_percent") == {"gpu_utilization_percent"}
    expr = "absent(grump_beat_heartbeat_timestamp_seconds)"
    assert promql_metric_names(expr) == {"grump_beat_heartbeat_timestamp_seconds"}


def test_label_names_from_grouping_and_matchers() -> None:
    expr = 'sum by (kind, tier) (rate(grump_jobs_finished_total{outcome="failed"}[10m]))'
    assert promql_label_names(expr) == {"kind", "tier", "outcome"}
    assert promql_label_names("sum(rate(x[5m]))") == set()
