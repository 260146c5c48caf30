"""Where grump's array work runs: the device probe and the GPU utilisation reading.

``array_module()`` answers which array library the vector code should use: CuPy
when it is installed *and* a CUDA device answers, NumPy otherwise. Installing
CuPy is not enough: ``import cupy`` succeeds on a machine without a GPU driver
and only the first device call fails, so the probe makes one.

``gpu_utilization()`` reads NVML through ``pynvml`` (package ``nvidia-ml-py``,
the ``gpu`` extra). Both imports happen lazily, inside the calls, so importing
this module touches no device and needs neither package.
"""

from __future__ import annotations

import functools
import importlib
import logging
from types import ModuleType

import numpy

_log = logging.getLogger(__name__)


@functools.cache
def array_module(prefer_gpu: bool = True) -> ModuleType:
    """The array module for vector work: ``cupy`` on a usable GPU, else ``numpy``.

    The probe runs once per ``prefer_gpu`` value per process; the answer is
    cached because a device does not come and go under a running worker.
    """
    if prefer_gpu:
        cupy = _usable_cupy()
        if cupy is not None:
            return cupy
    return numpy


def _usable_cupy() -> ModuleType | None:
    """CuPy if it imports and a device runs a kernel, else None (with the reason logged)."""
    try:
        cupy = importlib.import_module("cupy")
    except ImportError:
        return None
    except Exception as exc:  # a broken CUDA install can fail at import with anything
        _log.info("CuPy failed to import (%s); vector work runs on NumPy", exc)
        return None
    try:
        if not cupy.cuda.is_available():
            _log.info("CuPy is installed but sees no CUDA device; vector work runs on NumPy")
            return None
        # One tiny kernel: catches a missing driver, a toolkit mismatch or a failing NVRTC,
        # which is_available() alone does not.
        probe = cupy.arange(4, dtype=cupy.float32)
        if float((probe * probe).sum().item()) != 14.0:
            _log.warning("CuPy device gave a wrong answer to the probe; vector work runs on NumPy")
            return None
    except Exception as exc:  # CUDA runtime, driver and compiler errors share no base class
        _log.info("CuPy is installed but the GPU is not usable (%s); using NumPy", exc)
        return None
    return cupy


def gpu_utilization() -> float | None:
    """Mean GPU utilisation (percent, 0-100) over the devices NVML sees, or None.

    None means "no reading": pynvml is not installed, there is no driver, or no
    device is visible. Callers then leave the ``gpu_utilization_percent`` metric
    unset rather than report a made-up 0.
    """
    try:
        pynvml = importlib.import_module("pynvml")
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        _log.debug("NVML is not available: %s", exc)
        return None
    try:
        readings = _read_utilizations(pynvml)
    except pynvml.NVMLError as exc:
        _log.debug("NVML could not read utilisation: %s", exc)
        return None
    finally:
        try:
            pynvml.nvmlShutdown()
        except pynvml.NVMLError as exc:  # a failed shutdown must not cost the reading
            _log.debug("NVML shutdown failed: %s", exc)
    if not readings:
        return None
    return sum(readings) / len(readings)


def _read_utilizations(pynvml: ModuleType) -> list[float]:
    """Utilisation percent of every visible device, NVML already initialised."""
    count = int(pynvml.nvmlDeviceGetCount())
    return [
        float(pynvml.nvmlDeviceGetUtilizationRates(pynvml.nvmlDeviceGetHandleByIndex(i)).gpu)
        for i in range(count)
    ]
