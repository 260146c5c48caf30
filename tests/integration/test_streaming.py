"""Streamed complete jobs over real Redis and Postgres, with a real Celery worker.

The follower is another "API process" (its own Runtime): deltas reach it through
the job's Redis log while the worker streams. The provider is the offline one,
held after its first delta until the follower has it, so "before the job ended"
is an order of events, not of timings.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import select

from grump.errors import ProviderTransient
from grump.jobs.deltalog import log_key
from grump.jobs.stream import StreamBroken, StreamEnded, TextDelta, caller_left, follow
from grump.ledger.db import session_scope
from grump.ledger.models import Job
from grump.money import budgets
from grump.money.budget_math import Period
from grump.providers.base import ChatDelta, ChatRequest, ChatResult
from grump.providers.offline import OfflineChat
from grump.runtime import Runtime
from grump.settings import Settings
from tests.integration.completions_support import Stack, complete
from tests.integration.money_fixtures import money_ledger  # noqa: F401

pytestmark = pytest.mark.integration


class Gated:
    """The offline provider, held after its first delta until ``gate`` is set, then ``pause`` a word."""

    name = "offline"

    def __init__(self, pause: float = 0.0) -> None:
        self.inner = OfflineChat()
        self.gate = threading.Event()
        self.pause = pause
        self.streams = 0

    def complete(self, request: ChatRequest) -> ChatResult:
        return self.inner.complete(request)

    def stream(self, request: ChatRequest) -> Iterator[ChatDelta | ChatResult]:
        self.streams += 1
        for index, item in enumerate(self.inner.stream(request)):
            if index == 1:
                assert self.gate.wait(20), "the follower never had its first delta"
            elif index > 1:
                time.sleep(self.pause)
            yield item


@pytest.fixture
def settings(
    money_ledger: str,  # noqa: F811
    redis_url: str,
    tmp_path: Path,
) -> Settings:
    return Settings.model_validate(
        {
            "broker_url": redis_url,
            "redis_url": redis_url,
            "database_url": money_ledger,
            "data_dir": tmp_path / "grump",
            "task_max_retries": 0,
        }
    )


@pytest.fixture
def stack(settings: Settings) -> Iterator[Stack]:
    instance = Stack(settings)
    try:
        yield instance
    finally:
        instance.close()


def _gate(stack: Stack, pause: float = 0.0) -> Gated:
    chat = Gated(pause)
    for model in (stack.settings.economy_model, stack.settings.premium_model):
        stack.runtime._chat[model] = chat
    return chat


def _streamed(content: str) -> dict[str, Any]:
    return complete(content, max_tokens=40, stream=True)


def _job(stack: Stack, job_id: str) -> Job:
    with stack.runtime.sessions() as session:
        job = session.get(Job, uuid.UUID(job_id))
        assert job is not None
        session.expunge(job)
        return job


Hook = Callable[[Runtime, list[Any]], Awaitable[Any]]


def _follow(settings: Settings, job_id: str, on_first: Hook) -> list[Any]:
    """Follow ``job_id`` from another process's runtime; ``on_first`` runs at its first item
    and may return a task to wait for before the follower closes."""
    follower = Runtime(settings)

    async def run() -> list[Any]:
        items: list[Any] = []
        later: Any = None
        async for item in follow(follower, uuid.UUID(job_id), 30):
            items.append(item)
            if len(items) == 1:
                later = await on_first(follower, items)
        if later is not None:
            await later
        await follower.aclose()
        return items

    try:
        return asyncio.run(run())
    finally:
        follower.dispose()


def _text(items: list[Any]) -> str:
    return "".join(item.text for item in items if isinstance(item, TextDelta))


def test_deltas_arrive_while_the_job_runs_and_a_joiner_gets_the_whole_stream(stack: Stack) -> None:
    chat = _gate(stack)
    body = _streamed("stream a plan for the migration")
    joined: list[Any] = []
    at_first: dict[str, Any] = {}
    with stack.worker():
        job_id = str(stack.submit(body)["id"])

        async def first_delta(follower: Runtime, items: list[Any]) -> Any:
            at_first["status"] = _job(stack, job_id).status
            # An identical request now joins the running job, and reads its log from the start.
            again = await asyncio.to_thread(stack.submit, body)
            at_first["joined_id"] = str(again["id"])

            async def joiner() -> None:
                async for item in follow(follower, uuid.UUID(job_id), 30):
                    joined.append(item)

            task = asyncio.ensure_future(joiner())
            while not joined:  # the joiner has the stream's start before it goes on
                await asyncio.sleep(0.01)
            chat.gate.set()
            return task

        items = _follow(stack.settings, job_id, first_delta)
    job = _job(stack, job_id)
    assert at_first["status"] == "running" and at_first["joined_id"] == job_id
    assert isinstance(items[0], TextDelta) and isinstance(items[-1], StreamEnded)
    assert len([i for i in items if isinstance(i, TextDelta)]) > 1  # streamed, not replayed whole
    assert job.status == "succeeded" and _text(items) == job.result["content"]
    assert _text(joined) == job.result["content"] and isinstance(joined[-1], StreamEnded)
    assert job.coalesced_count == 1 and chat.streams == 1
    assert len(stack.cost_events(job_id)) == 1


def test_a_cache_hit_is_replayed_and_charged_once(stack: Stack) -> None:
    chat = _gate(stack)
    chat.gate.set()
    body = _streamed("the same question twice")
    with stack.worker():
        first = stack.run(body)
        second = stack.run(body)
        assert first["status"] == second["status"] == "succeeded"
        assert second["id"] != first["id"] and chat.streams == 1

        async def nothing(follower: Runtime, items: list[Any]) -> None:
            return None

        items = _follow(stack.settings, str(second["id"]), nothing)
    assert items[0] == TextDelta(first["result"]["content"]) and len(items) == 2
    assert isinstance(items[1], StreamEnded) and items[1].job.result["cached"] is True
    assert len(stack.cost_events(str(second["id"]))) == 1


def _leave(stack: Stack, chat: Gated, job_id: str) -> list[Any]:
    """Follow the job to its first delta, then leave as a disconnected client does."""

    async def leave(follower: Runtime, items: list[Any]) -> None:
        await caller_left(follower, uuid.UUID(job_id))
        chat.gate.set()
        raise _Left

    try:
        return _follow(stack.settings, job_id, leave)
    except _Left:
        return []


class _Left(Exception):
    pass


def _budget(stack: Stack) -> None:
    with session_scope(stack.runtime.sessions) as session:
        budgets.set_budget(
            session, "acme", None, Period.MONTHLY, Decimal(10), Decimal("0.8"), datetime.now(UTC)
        )


def _budget_counters(stack: Stack) -> tuple[Decimal, Decimal]:
    with session_scope(stack.runtime.sessions) as session:
        (status,) = budgets.tenant_statuses(session, "acme", datetime.now(UTC))
        return status.spent, status.reserved


def test_a_caller_leaving_lets_the_job_finish_by_default(stack: Stack) -> None:
    chat = _gate(stack)
    _budget(stack)
    with stack.worker():
        job_id = str(stack.submit(_streamed("leave early, finish anyway"))["id"])
        _leave(stack, chat, job_id)
        done = stack.wait(job_id)
    assert done["status"] == "succeeded" and len(stack.cost_events(job_id)) == 1
    assert _budget_counters(stack) == (Decimal(done["cost"]), Decimal(0))


def test_cancel_on_disconnect_stops_the_worker_and_charges_what_was_billed(
    settings: Settings,
) -> None:
    stack = Stack(settings.model_copy(update={"stream_on_disconnect": "cancel"}))
    try:
        # Words slower than the flush interval: the worker reads the cancel flag with each.
        chat = _gate(stack, pause=4 * settings.stream_flush_ms / 1000)
        _budget(stack)
        with stack.worker():
            job_id = str(stack.submit(_streamed("leave early and cancel it"))["id"])
            _leave(stack, chat, job_id)
            deadline = time.monotonic() + 20
            while _job(stack, job_id).status == "running" and time.monotonic() < deadline:
                time.sleep(0.02)
        job = _job(stack, job_id)
        assert job.status == "cancelled" and job.error is not None
        whole = chat.inner.complete(ChatRequest(job.model or "", _input(job)))
        assert 0 < job.tokens_out < whole.tokens_out and job.tokens_in > 0
        (event,) = stack.cost_events(job_id)
        assert event.cost == job.cost > 0 and event.tokens_out == job.tokens_out
        assert _budget_counters(stack) == (job.cost, Decimal(0))  # settled once, nothing held
    finally:
        stack.close()


def _input(job: Job) -> Any:
    from grump.jobs.models import CompleteInput

    return CompleteInput.model_validate(job.input)


def test_nothing_of_a_finished_job_stays_in_redis_for_ever(stack: Stack) -> None:
    chat = _gate(stack)
    chat.gate.set()
    with stack.worker():
        done = stack.run(_streamed("keys expire"))
    client = redis.Redis.from_url(str(stack.settings.redis_url))
    keys = [k.decode() for k in client.keys("grump:deltas:*")]
    assert keys == [log_key(uuid.UUID(done["id"]))]
    assert all(0 < client.ttl(k) <= stack.settings.stream_log_ttl_seconds for k in keys)
    with stack.runtime.sessions() as session:
        assert session.scalar(select(Job.status)) == "succeeded"


class FailsMidStream(Gated):
    """The first stream fails after two deltas (once the follower has one); the next runs whole."""

    def stream(self, request: ChatRequest) -> Iterator[ChatDelta | ChatResult]:
        self.streams += 1
        for index, item in enumerate(self.inner.stream(request)):
            if self.streams == 1 and index == 2:
                assert self.gate.wait(20), "the follower never had its first delta"
                raise ProviderTransient("upstream reset mid-stream")
            yield item


def test_a_stream_failing_mid_answer_runs_again_whole_and_the_follower_sees_the_restart(
    settings: Settings,
) -> None:
    stack = Stack(settings.model_copy(update={"task_max_retries": 1}))
    try:
        chat = FailsMidStream()
        for model in (stack.settings.economy_model, stack.settings.premium_model):
            stack.runtime._chat[model] = chat
        with stack.worker():
            job_id = str(stack.submit(_streamed("fail in the middle, then again"))["id"])

            async def opened(follower: Runtime, items: list[Any]) -> None:
                chat.gate.set()

            items = _follow(stack.settings, job_id, opened)
            done = stack.wait(job_id)

            async def nothing(follower: Runtime, items: list[Any]) -> None:
                return None

            replay = _follow(stack.settings, job_id, nothing)
        assert isinstance(items[0], TextDelta) and isinstance(items[-1], StreamBroken)
        assert items[-1].code == "worker_lost"
        # No fallback after the first delta: the same model ran it again, whole, charged once.
        assert done["status"] == "succeeded" and done["attempts"] == 2 and chat.streams == 2
        assert done["model"] == _job(stack, job_id).model and "fallback" not in str(done["routing"])
        assert _text(replay) == done["result"]["content"] and isinstance(replay[-1], StreamEnded)
        assert len(stack.cost_events(job_id)) == 1
    finally:
        stack.close()
