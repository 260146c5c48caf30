"""Batches that arrive while the lanes are busy are merged and run as one; each caller gets its part."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from grump.jobs.embed.batch import BatchReport, Retry
from grump.jobs.embed.lanes import Lanes, Messages


def batch(size: int) -> Messages:
    return {uuid.uuid4(): 5 for _ in range(size)}


class SlowRunner:
    """Blocks the first batch until released, so the next ones queue up behind it."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.runs: list[Messages] = []

    def __call__(self, merged: Messages) -> BatchReport:
        self.runs.append(merged)
        if len(self.runs) == 1:
            self.started.set()
            assert self.release.wait(10)
        return BatchReport(succeeded=list(merged))


def test_batches_queued_while_the_lane_is_busy_run_as_one() -> None:
    runner = SlowRunner()
    lanes = Lanes(runner, lanes=1, max_jobs=100)
    first, later = batch(3), [batch(2) for _ in range(5)]
    with ThreadPoolExecutor(6) as pool:
        head = pool.submit(lanes.run, first, 10)
        assert runner.started.wait(10)
        tails = [pool.submit(lanes.run, b, 10) for b in later]
        while len(lanes._queued) < len(later):  # all five are waiting behind the first
            threading.Event().wait(0.01)
        runner.release.set()
        reports = [head.result(), *(t.result() for t in tails)]
    assert len(runner.runs) == 2  # the first alone, then the five merged
    assert len(runner.runs[1]) == 10
    for sent, report in zip([first, *later], reports, strict=True):
        assert sorted(report.succeeded) == sorted(sent)  # each caller sees only its own jobs


def test_a_merged_batch_never_exceeds_max_jobs_but_takes_at_least_one() -> None:
    runner = SlowRunner()
    lanes = Lanes(runner, lanes=1, max_jobs=4)
    with ThreadPoolExecutor(5) as pool:
        head = pool.submit(lanes.run, batch(1), 10)
        assert runner.started.wait(10)
        rest = [pool.submit(lanes.run, b, 10) for b in (batch(3), batch(3), batch(6))]
        while len(lanes._queued) < 3:
            threading.Event().wait(0.01)
        runner.release.set()
        for future in [head, *rest]:
            future.result()
    assert [len(run) for run in runner.runs] == [1, 3, 3, 6]


def test_an_error_reaches_every_caller_of_the_batch_and_the_lane_goes_on() -> None:
    calls = []

    def flaky(merged: Messages) -> BatchReport:
        calls.append(merged)
        if len(calls) == 1:
            raise RuntimeError("database exploded")
        return BatchReport(succeeded=list(merged))

    lanes = Lanes(flaky, lanes=2, max_jobs=10)
    with pytest.raises(RuntimeError, match="exploded"):
        lanes.run(batch(2), 10)
    again = batch(2)
    assert sorted(lanes.run(again, 10).succeeded) == sorted(again)


def test_report_part_keeps_only_the_given_jobs() -> None:
    a, b, c, d = (uuid.uuid4() for _ in range(4))
    report = BatchReport([a], [b], [c], [Retry(d, "embed", 5, 1)])
    assert report.part([a, d]) == BatchReport([a], [], [], [Retry(d, "embed", 5, 1)])
