"""A stand-in for NVML's Python binding (``pynvml``), for a machine without a GPU.

Only the calls ``grump.vectors.device.gpu_utilization`` makes. The devices and
their utilisation come from ``FAKE_NVML_UTILIZATION`` (percentages, comma
separated, one per device), read at each ``nvmlInit`` so a test can change the
reading under a running worker. Unset, it behaves as a machine with no driver.

Put this directory first on ``PYTHONPATH`` (a worker subprocess) or install it
as ``sys.modules["pynvml"]`` (in-process): either way it replaces NVML itself
and nothing of grump's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

ENV = "FAKE_NVML_UTILIZATION"
_devices: list[float] = []


class NVMLError(Exception):
    """What pynvml raises for every NVML failure."""


@dataclass(frozen=True)
class _Utilization:
    gpu: float
    memory: float = 0.0


def nvmlInit() -> None:  # noqa: N802 (pynvml's names)
    value = os.environ.get(ENV)
    if not value:
        raise NVMLError("NVML Shared Library Not Found")
    _devices[:] = [float(part) for part in value.split(",")]


def nvmlShutdown() -> None:  # noqa: N802
    _devices.clear()


def nvmlDeviceGetCount() -> int:  # noqa: N802
    return len(_devices)


def nvmlDeviceGetHandleByIndex(index: int) -> int:  # noqa: N802
    if not 0 <= index < len(_devices):
        raise NVMLError("Invalid Argument")
    return index


def nvmlDeviceGetUtilizationRates(handle: int) -> _Utilization:  # noqa: N802
    return _Utilization(gpu=_devices[handle])
