"""What Flower sees: each kind's messages under a task name of its own, and each message of a
batch as a task of its own (received, started, succeeded), captured from a real worker's events."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

import pytest

from grump.celery.app import GrumpCelery
from grump.celery.queues import PARSE_QUEUE
from grump.celery.task_names import (
    COMPLETE_JOB_TASK,
    EMBED_JOBS_TASK,
    PARSE_JOBS_TASK,
    RUN_JOB_TASK,
)
from grump.settings import Settings
from tests.integration.test_pipeline import COMPLETE, Stack, batching_stack, worker

pytestmark = pytest.mark.integration
EVENT_TIMEOUT = 30.0  # the longest the test waits for events that are due


class Events:
    """Every event the workers send, captured in a thread by Celery's event receiver."""

    def __init__(self, app: GrumpCelery) -> None:
        self.app = app
        self.seen: list[dict[str, Any]] = []
        self.changed = threading.Condition(threading.RLock())
        self.receiver: Any = None
        self.thread = threading.Thread(target=self._capture, daemon=True)

    def __enter__(self) -> Events:
        self.thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.receiver is not None:
            self.receiver.should_stop = True
        self.thread.join(5)

    def _capture(self) -> None:
        with self.app.connection_for_read() as connection:
            self.receiver = self.app.events.Receiver(connection, handlers={"*": self._on_event})
            self.receiver.capture(limit=None, timeout=None, wakeup=True)

    def _on_event(self, event: dict[str, Any]) -> None:
        with self.changed:
            self.seen.append(event)
            self.changed.notify_all()

    def wait_for(self, done: Callable[[list[dict[str, Any]]], bool], what: str) -> None:
        """Wait until ``done`` holds of the events seen (a condition, not a time)."""
        with self.changed:
            if not self.changed.wait_for(lambda: done(self.seen), EVENT_TIMEOUT):
                raise AssertionError(f"{what}; tasks seen: {self.tasks()}")

    def tasks(self) -> dict[str, dict[str, Any]]:
        """Task id -> its name, job (from task-received) and the types of its events."""
        tasks: dict[str, dict[str, Any]] = {}
        with self.changed:  # re-entrant: called while waiting too
            for event in self.seen:
                if not event["type"].startswith("task-"):
                    continue
                task = tasks.setdefault(event["uuid"], {"types": []})
                task["types"].append(event["type"])
                if event["type"] == "task-received":
                    task["name"] = event["name"]
                    task["args"] = event["args"]
                if event["type"] == "task-succeeded":
                    task["result"] = event["result"]
        return tasks


def tasks_of(events: Events, job_id: str) -> list[dict[str, Any]]:
    return [t for t in events.tasks().values() if job_id in str(t.get("args", ""))]


def finished(events: Events, job_ids: list[str]) -> bool:
    return all(any("task-succeeded" in t["types"] for t in tasks_of(events, i)) for i in job_ids)


@pytest.fixture
def stack(real_settings: Settings) -> Iterator[Stack]:
    built = batching_stack(real_settings, parse_batch_wait_ms=100.0)
    yield built
    built.close()


def test_each_kind_and_each_batched_message_is_a_task_of_its_own(stack: Stack) -> None:
    # The heartbeats tell the receiver is listening.
    with worker(stack, without_heartbeat=False), Events(stack.celery) as events:
        events.wait_for(
            lambda seen: any(e["type"] == "worker-heartbeat" for e in seen),
            "the receiver heard no worker",
        )
        parse = [
            stack.submit({"kind": "parse", "input": {"text": f"chat app {i} with Slack"}})
            for i in range(4)
        ]
        complete = stack.submit(COMPLETE)
        embed = stack.submit({"kind": "embed", "input": {"texts": ["a", "b"], "dimensions": 16}})
        # A message queued under the old name, for a job that already has one of its kind.
        stack.celery.send_task(
            RUN_JOB_TASK, args=[parse[0]], queue=PARSE_QUEUE, routing_key=PARSE_QUEUE
        )
        events.wait_for(
            lambda _: (
                finished(events, [*parse, complete, embed])
                and len(tasks_of(events, parse[0])) == 2
                and all("task-succeeded" in t["types"] for t in tasks_of(events, parse[0]))
            ),
            "not every message's task-succeeded came",
        )
    names = {
        job: sorted(t["name"] for t in tasks_of(events, job)) for job in [*parse, complete, embed]
    }
    assert names == {
        parse[0]: sorted([PARSE_JOBS_TASK, RUN_JOB_TASK]),
        **{job: [PARSE_JOBS_TASK] for job in parse[1:]},
        complete: [COMPLETE_JOB_TASK],
        embed: [EMBED_JOBS_TASK],
    }
    for job in [*parse, complete, embed]:
        for task in tasks_of(events, job):
            assert task["types"] == ["task-received", "task-started", "task-succeeded"], task
    # Each batched message carries its own job's step; one of parse[0]'s two ran it.
    assert sorted(t["result"] for t in tasks_of(events, parse[0])) == ["'skipped'", "'succeeded'"]
    for job in parse[1:]:
        assert [t["result"] for t in tasks_of(events, job)] == ["'succeeded'"]
