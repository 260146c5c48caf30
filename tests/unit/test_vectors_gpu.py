"""The device probe behind array_module and the NVML reading, on machines with and without a GPU.

This machine has neither CuPy nor an NVIDIA driver, so the GPU side is played
by small stand-in modules put in ``sys.modules``: they behave like CuPy and
pynvml do on a machine without a usable device (import works, the first device
call raises) and on one with a device.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np
import pytest

from grump.vectors.device import array_module, gpu_utilization


@pytest.fixture(autouse=True)
def fresh_probe() -> Iterator[None]:
    array_module.cache_clear()
    yield
    array_module.cache_clear()


class FakeCupy(ModuleType):
    """CuPy's probe surface: ``cuda.is_available()`` and a kernel behind ``arange``."""

    def __init__(self, *, available: bool, kernel: Callable[..., Any]) -> None:
        super().__init__("cupy")
        self.probes = 0
        self.available = available
        self.cuda = SimpleNamespace(is_available=self.is_available)
        self.arange = kernel
        self.float32 = np.float32

    def is_available(self) -> bool:
        self.probes += 1
        return self.available


def no_driver(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient")


def test_without_cupy_the_module_is_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cupy", None)  # makes `import cupy` raise ImportError
    assert array_module() is np


def test_cupy_that_imports_but_has_no_driver_falls_back_to_numpy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "cupy", FakeCupy(available=True, kernel=no_driver))
    assert array_module() is np


def test_cupy_without_a_device_falls_back_to_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cupy", FakeCupy(available=False, kernel=np.arange))
    assert array_module() is np


def test_cupy_whose_probe_raises_falls_back_to_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    cupy = FakeCupy(available=True, kernel=np.arange)
    cupy.cuda = SimpleNamespace(is_available=no_driver)
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    assert array_module() is np


def test_a_working_device_selects_cupy_once(monkeypatch: pytest.MonkeyPatch) -> None:
    cupy = FakeCupy(available=True, kernel=np.arange)
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    assert array_module() is cupy
    assert array_module() is cupy
    assert cupy.probes == 1


def test_prefer_gpu_false_keeps_numpy_even_with_a_device(monkeypatch: pytest.MonkeyPatch) -> None:
    cupy = FakeCupy(available=True, kernel=np.arange)
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    assert array_module(prefer_gpu=False) is np
    assert cupy.probes == 0


class NVMLError(Exception):
    pass


class FakeNvml(ModuleType):
    """pynvml's reading surface over a list of per-device utilisations (< 0: read fails)."""

    NVMLError = NVMLError

    def __init__(self, utilizations: list[float], *, init_fails: bool = False) -> None:
        super().__init__("pynvml")
        self.utilizations = utilizations
        self.init_fails = init_fails
        self.shutdowns = 0

    def nvmlInit(self) -> None:  # noqa: N802 - pynvml's names
        if self.init_fails:
            raise NVMLError("NVML Shared Library Not Found")

    def nvmlShutdown(self) -> None:  # noqa: N802
        self.shutdowns += 1

    def nvmlDeviceGetCount(self) -> int:  # noqa: N802
        return len(self.utilizations)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:  # noqa: N802
        return index

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> SimpleNamespace:  # noqa: N802
        if self.utilizations[handle] < 0:
            raise NVMLError("GPU is lost")
        return SimpleNamespace(gpu=self.utilizations[handle], memory=0)


def test_utilization_is_none_without_pynvml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)
    assert gpu_utilization() is None


def test_utilization_is_none_without_a_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", FakeNvml([], init_fails=True))
    assert gpu_utilization() is None


def test_utilization_is_none_without_a_device(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = FakeNvml([])
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    assert gpu_utilization() is None
    assert nvml.shutdowns == 1


def test_utilization_is_none_when_a_read_fails_and_nvml_is_shut_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    nvml = FakeNvml([40.0, -1.0])
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    assert gpu_utilization() is None
    assert nvml.shutdowns == 1


def test_utilization_is_the_mean_over_visible_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", FakeNvml([30.0, 55.0]))
    assert gpu_utilization() == 42.5


def test_importing_the_vector_code_touches_no_gpu_library() -> None:
    probe = "import sys, grump.vectors, grump.vectors.device; print(sorted({'cupy', 'pynvml'} & set(sys.modules)))"
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip() == "[]"
