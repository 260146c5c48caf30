"""The GPU utilisation gauge, read after provider calls at most once a second.

Reading NVML opens and closes the library each time; once a second is plenty
for a gauge Prometheus scrapes every few seconds.
"""

from __future__ import annotations

import threading
import time

from grump import metrics
from grump.vectors.device import gpu_utilization


class GpuSampler:
    """The GPU utilisation gauge's reader: NVML at most once every ``every_seconds``."""

    def __init__(self, every_seconds: float = 1.0) -> None:
        self._every = every_seconds
        self._last = float("-inf")
        self._lock = threading.Lock()

    def after_call(self, texts: int) -> None:
        """Update the gauge after a provider call, unless it was read within the interval."""
        now = time.monotonic()
        with self._lock:
            if now - self._last < self._every:
                return
            self._last = now
        # No reading leaves the gauge unset (never a made-up 0); the first one registers it
        # in the registry the process's /metrics serves.
        metrics.report_gpu_utilization(gpu_utilization())
