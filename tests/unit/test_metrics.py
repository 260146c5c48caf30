"""Metric definitions: GPU utilisation is absent without a GPU reading; gauges add up."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import REGISTRY, Gauge, generate_latest

from grump import metrics
from grump.metrics_server import MULTIPROC_ENV, exposition_registry


def test_gpu_utilisation_is_absent_until_a_reading_arrives() -> None:
    if not metrics._gpu_gauge_registered:
        assert b"gpu_utilization_percent" not in generate_latest()
    metrics.report_gpu_utilization(None)
    if not metrics._gpu_gauge_registered:
        assert b"gpu_utilization_percent" not in generate_latest()
    metrics.report_gpu_utilization(42.0)
    assert b"gpu_utilization_percent 42.0" in generate_latest()


def test_gauges_are_one_series_across_processes() -> None:
    """In multiprocess mode (prefork workers, `grump api --workers N`) the default 'all'
    mode gives a series per pid, and the live modes need dead processes marked, which
    uvicorn's supervisor gives no hook for."""
    gauges = [v for v in vars(metrics).values() if isinstance(v, Gauge)]
    # GPU utilisation is set by the gpu worker alone, a single process (threads).
    shared = [g for g in gauges if g is not metrics.GPU_UTILIZATION]
    assert metrics.QUEUE_DEPTH in shared
    modes = {g._name: g._multiprocess_mode for g in shared}
    assert all(mode in ("min", "max", "mostrecent") for mode in modes.values()), modes


def test_exposition_sums_the_processes_files_in_multiprocess_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    assert exposition_registry() is REGISTRY
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))
    # Read from the directory alone: no process has written a file there yet.
    assert generate_latest(exposition_registry()) == b""
