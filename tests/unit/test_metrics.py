"""Metric definitions: GPU utilisation is absent without a GPU reading."""

from __future__ import annotations

from prometheus_client import generate_latest

from grump import metrics


def test_gpu_utilisation_is_absent_until_a_reading_arrives() -> None:
    if not metrics._gpu_gauge_registered:
        assert b"gpu_utilization_percent" not in generate_latest()
    metrics.report_gpu_utilization(None)
    if not metrics._gpu_gauge_registered:
        assert b"gpu_utilization_percent" not in generate_latest()
    metrics.report_gpu_utilization(42.0)
    assert b"gpu_utilization_percent 42.0" in generate_latest()
