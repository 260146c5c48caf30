"""Sustained mixed load on every program: each accepted job finishes, charged exactly once.

The machinery is bench/load.py's (`--seconds 60` there prints the figures); here
15 s at a modest rate, and only correctness is asserted, never throughput.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from bench.load import Stack, process_tree, run_load

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(100)]

RATE = 10.0  # jobs/s: a 2-core CI runner sustains several times this (bench/load.py)
SECONDS = 15.0


def _gone(pids: list[int], timeout: float = 10) -> list[int]:
    """The pids still alive (zombies count as gone) after up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p in pids if _state(p) not in ("", "Z")]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return ""


def test_sustained_load_loses_no_job(redis_url: str, tmp_path: Path) -> None:
    with Stack(redis_url, tmp_path, api_workers=2) as stack:
        pids = [pid for proc in stack.procs.values() for pid in process_tree(proc.pid)]
        run = run_load(stack, RATE, SECONDS, drain=30)
        logs = stack.logs()
    accepted = run.accepted
    assert len(run.submissions) == RATE * SECONDS
    assert accepted, f"no job was accepted: {Counter(s.status for s in run.submissions)}"
    assert len(set(accepted)) == len(accepted)  # distinct inputs: nothing coalesced
    statuses = Counter(run.finals.get(i, ("missing",))[0] for i in accepted)
    assert statuses == {"succeeded": len(accepted)}, f"{statuses}\n{logs}"
    assert run.lost == []
    events = run.cost_events
    assert [i for i in accepted if events.get(i) != 1] == [], logs
    assert set(events.values()) == {1}  # warm-up jobs too: nobody is charged twice
    assert _gone(pids) == [], "a program outlived the run"
