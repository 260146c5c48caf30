"""Group commit: concurrent jobs of one worker share their claims' and records' transactions."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select

from grump.jobs.ledger_batcher import GroupCommit
from grump.jobs.models import CompleteJobRequest
from grump.jobs.run import Step
from grump.jobs.run_grouped import process_job_grouped
from grump.jobs.submit import submit_job
from grump.ledger.models import Job
from grump.ledger.money_models import CostEvent
from tests.conftest import Api, local_settings
from tests.unit.test_processing import ScriptedChat


class HeldFlush:
    """A flush that doubles its items; the first one waits until it is let go."""

    def __init__(self) -> None:
        self.groups: list[list[int]] = []
        self.entered = threading.Event()
        self.go = threading.Event()
        self.fail_next = False

    def __call__(self, items: Sequence[int]) -> list[int]:
        self.groups.append(list(items))
        if len(self.groups) == 1:
            self.entered.set()
            self.go.wait(30)
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("the ledger said no")
        return [item * 2 for item in items]


def _queued_while_first_flush_runs(flush: HeldFlush, group: GroupCommit[int, int]) -> list[object]:
    """Callers 1..5 arrive while caller 0's flush runs; each one's answer, or its error."""
    answers: list[object] = [None] * 6

    def call(item: int) -> None:
        try:
            answers[item] = group.submit(item)
        except RuntimeError as exc:
            answers[item] = exc

    first = threading.Thread(target=call, args=(0,))
    first.start()
    assert flush.entered.wait(30)
    others = [threading.Thread(target=call, args=(i,)) for i in range(1, 6)]
    for thread in others:
        thread.start()
    while len(group._queue) < 5:
        threading.Event().wait(0.01)  # until the five are queued behind the running flush
    flush.go.set()
    for thread in [first, *others]:
        thread.join(30)
    return answers


def test_callers_that_arrive_during_a_flush_are_flushed_together_each_with_its_answer() -> None:
    flush = HeldFlush()
    group: GroupCommit[int, int] = GroupCommit(flush, max_items=100)
    answers = _queued_while_first_flush_runs(flush, group)
    assert answers == [0, 2, 4, 6, 8, 10]
    assert flush.groups[0] == [0]
    assert sorted(flush.groups[1]) == [1, 2, 3, 4, 5]  # one flush for the five
    assert group.submit(7) == 14  # a lone caller is flushed by itself, at once
    assert flush.groups[-1] == [7]


def test_a_group_is_at_most_max_items() -> None:
    flush = HeldFlush()
    group: GroupCommit[int, int] = GroupCommit(flush, max_items=2)
    answers = _queued_while_first_flush_runs(flush, group)
    assert answers == [0, 2, 4, 6, 8, 10]
    assert all(len(items) <= 2 for items in flush.groups)


def test_a_failed_flush_fails_its_own_group_only() -> None:
    flush = HeldFlush()
    flush.fail_next = True
    group: GroupCommit[int, int] = GroupCommit(flush, max_items=100)
    answers = _queued_while_first_flush_runs(flush, group)
    assert isinstance(answers[0], RuntimeError)
    assert answers[1:] == [2, 4, 6, 8, 10]


COMPLETE = {"kind": "complete", "input": {"messages": [{"role": "user", "content": "say hi"}]}}


@pytest.fixture
def api(tmp_path: Path) -> Api:
    return Api(local_settings(tmp_path, fallback_to_other_tier=False))


def _submit(api: Api, text: str) -> uuid.UUID:
    body = {**COMPLETE, "input": {"messages": [{"role": "user", "content": text}]}}
    request = CompleteJobRequest.model_validate(body)
    return submit_job(api.runtime, api.celery, "tenant-a", request).job.id


def test_concurrent_jobs_are_each_recorded_and_charged_once(api: Api) -> None:
    job_ids = [_submit(api, f"question {i}") for i in range(12)]
    chat = ScriptedChat()
    with api.runtime.sessions() as session:
        for model in session.scalars(select(Job.model).where(Job.id.in_(job_ids))):
            api.runtime._chat[model or ""] = chat
    with ThreadPoolExecutor(12) as pool:
        steps = list(pool.map(lambda i: process_job_grouped(api.runtime, i), job_ids))
    assert steps == [Step.SUCCEEDED] * 12
    # Delivered again (twice at once, even): nothing runs, nothing is charged again.
    with ThreadPoolExecutor(12) as pool:
        again = list(pool.map(lambda i: process_job_grouped(api.runtime, i), job_ids * 2))
    assert again == [Step.SKIPPED] * 24
    assert chat.calls == 12
    with api.runtime.sessions() as session:
        events = session.execute(
            select(CostEvent.job_id, func.count()).group_by(CostEvent.job_id)
        ).all()
        jobs = session.execute(select(Job.status, Job.attempts).where(Job.id.in_(job_ids))).all()
    assert sorted(events) == sorted((job_id, 1) for job_id in job_ids)
    assert jobs == [("succeeded", 1)] * 12
