"""Multiprocess metrics: a prefork child's counts reach the parent's /metrics.

In a fresh interpreter, as ``grump worker --tier cpu`` starts: the mode is chosen
before prometheus-client is imported, then the pool forks.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

PREFORK_WORKER = """
import os, sys
from pathlib import Path
import grump.cli  # what `grump worker` has imported when it chooses the mode
from grump.metrics_mode import prepare_multiprocess

assert "prometheus_client" not in sys.modules, "imported before the mode is chosen"
prepare_multiprocess(Path(sys.argv[1]))
from grump import metrics
from grump.metrics_server import exposition_registry
from prometheus_client import generate_latest

child = os.fork()
if child == 0:
    metrics.JOBS_FINISHED.labels("parse", "cpu", "succeeded").inc()
    os._exit(0)
os.waitpid(child, 0)
sys.stdout.write(generate_latest(exposition_registry()).decode())
"""


def test_a_forked_childs_count_is_in_the_parents_exposition(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PREFORK_WORKER, str(tmp_path / "metrics-cpu")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(done.stdout)
        for sample in family.samples
    }
    key = (
        "grump_jobs_finished_total",
        (("kind", "parse"), ("outcome", "succeeded"), ("tier", "cpu")),
    )
    assert samples.get(key) == 1.0, done.stdout
