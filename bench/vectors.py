"""Throughput of grump's embedding post-processing, per operation, on NumPy and (if present) CuPy.

Each operation runs on batches of 256 x 1024 float32 vectors, the embed
worker's largest batch at the default model width. Every figure is the median
of several timed runs; a run repeats the operation enough times to last about
--run-seconds. Device operations start from a batch already on the device;
the ``postprocess`` rows include the host-to-device and device-to-host copies.

    python bench/vectors.py [--runs 7] [--run-seconds 0.2] [--cpu-only]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from grump.vectors import (
    array_module,
    l2_normalize,
    postprocess,
    quantize_binary,
    quantize_int8,
    truncate_dimensions,
)

BATCH = 256
WIDTH = 1024
TRUNCATED = 256


def synchronizer(xp: ModuleType) -> Callable[[], None]:
    """Waits for queued device work: GPU kernels run asynchronously to the timer."""
    cuda = getattr(xp, "cuda", None)
    if cuda is None:
        return lambda: None
    device = cuda.Device()
    return lambda: device.synchronize()


def operations(xp: ModuleType) -> dict[str, Callable[[], Any]]:
    rng = np.random.default_rng(6)
    host = rng.standard_normal((BATCH, WIDTH), dtype=np.float32)
    device = xp.asarray(host)
    return {
        "l2_normalize": lambda: l2_normalize(device, xp=xp),
        f"truncate {WIDTH}->{TRUNCATED} + renormalise": lambda: truncate_dimensions(
            device, TRUNCATED, xp=xp
        ),
        "quantize_int8": lambda: quantize_int8(device, xp=xp),
        "quantize_binary": lambda: quantize_binary(device, xp=xp),
        "postprocess float (host in/out)": lambda: postprocess(
            host, dimensions=None, encoding="float", xp=xp
        ),
        f"postprocess int8 @{TRUNCATED} (host in/out)": lambda: postprocess(
            host, dimensions=TRUNCATED, encoding="int8", xp=xp
        ),
        "postprocess binary (host in/out)": lambda: postprocess(
            host, dimensions=None, encoding="binary", xp=xp
        ),
    }


def median_batches_per_second(
    operation: Callable[[], Any], sync: Callable[[], None], runs: int, run_seconds: float
) -> float:
    operation()  # warm-up: first-call costs (kernel compilation on CuPy) are not throughput
    sync()
    started = time.perf_counter()
    operation()
    sync()
    once = max(time.perf_counter() - started, 1e-9)
    repeats = max(1, round(run_seconds / once))
    rates = []
    for _ in range(runs):
        started = time.perf_counter()
        for _ in range(repeats):
            operation()
        sync()
        rates.append(repeats / (time.perf_counter() - started))
    return statistics.median(rates)


def bench(xp: ModuleType, runs: int, run_seconds: float) -> None:
    sync = synchronizer(xp)
    print(f"\n{xp.__name__} {xp.__version__}: {BATCH} x {WIDTH} float32 batches, median of {runs}")
    print(f"{'operation':<42} {'batches/s':>10} {'vectors/s':>12} {'ms/batch':>9}")
    for name, operation in operations(xp).items():
        rate = median_batches_per_second(operation, sync, runs, run_seconds)
        print(f"{name:<42} {rate:>10.1f} {rate * BATCH:>12,.0f} {1000 / rate:>9.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=7, help="timed runs per operation")
    parser.add_argument("--run-seconds", type=float, default=0.2, help="length of one run")
    parser.add_argument("--cpu-only", action="store_true", help="skip CuPy even on a GPU")
    args = parser.parse_args()
    backends = [np]
    gpu = array_module(prefer_gpu=not args.cpu_only)
    if gpu is not np:
        backends.append(gpu)
    else:
        print("no usable GPU (or --cpu-only): NumPy only")
    for xp in backends:
        bench(xp, args.runs, args.run_seconds)


if __name__ == "__main__":
    main()
