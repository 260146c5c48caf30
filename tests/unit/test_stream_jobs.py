"""Streamed complete jobs, embedded (SQLite, the in-memory delta log): deltas reach follow() while
the job runs, one cost whatever the caller does, fallback only before the first delta."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from grump.errors import ProviderTransient
from grump.jobs.complete import price_answer
from grump.jobs.models import CompleteJobRequest
from grump.jobs.run import Step, process_job
from grump.jobs.stream import StreamEnded, TextDelta, ToolCallDelta, caller_left, follow
from grump.jobs.submit import submit_job
from grump.ledger.models import Job
from grump.ledger.money_models import CostEvent
from grump.providers.base import ChatDelta, ChatRequest, ChatResult
from tests.conftest import Api, local_settings

WORDS = ["one", " two", " three", " four", " five", " six"]


def _body(content: str = "stream me") -> dict[str, Any]:
    return {
        "kind": "complete",
        "input": {"messages": [{"role": "user", "content": content}], "stream": True},
    }


class GatedStream:
    """Streams ``WORDS``; stops after the ``gate_after``-th until ``gate`` is set."""

    name = "scripted"

    def __init__(self, gate_after: int = 1, fail_at: int | None = None, pause: float = 0) -> None:
        self.gate = threading.Event()
        self.pause = pause
        self.gate_after = gate_after
        self.fail_at = fail_at
        self.closed = False
        self.calls = 0

    def complete(self, request: ChatRequest) -> ChatResult:
        raise AssertionError("a streamed job must stream")

    def stream(self, request: ChatRequest) -> Iterator[ChatDelta | ChatResult]:
        self.calls += 1
        try:
            for i, word in enumerate(WORDS):
                if i == self.fail_at:
                    raise ProviderTransient("upstream reset")
                if i == self.gate_after:
                    assert self.gate.wait(10), "the test never opened the gate"
                elif i > self.gate_after:
                    time.sleep(self.pause)
                yield ChatDelta(text=word)
            yield ChatResult("".join(WORDS), request.model, 40, 6, "stop", self.name)
        finally:
            self.closed = True


def _api(tmp_path: Path, **overrides: object) -> Api:
    return Api(local_settings(tmp_path, fallback_to_other_tier=False, **overrides))


def _submit(api: Api, content: str = "stream me") -> uuid.UUID:
    request = CompleteJobRequest.model_validate(_body(content))
    return submit_job(api.runtime, api.celery, "tenant-a", request).job.id


def _job(api: Api, job_id: uuid.UUID) -> Job:
    with api.runtime.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        session.expunge(job)
        return job


def _cost_events(api: Api, job_id: uuid.UUID) -> int:
    with api.runtime.sessions() as session:
        query = select(func.count()).select_from(CostEvent).where(CostEvent.job_id == job_id)
        return int(session.scalar(query) or 0)


def _follow(api: Api, job_id: uuid.UUID, chat: GatedStream, leave: bool = False) -> dict[str, Any]:
    """Run the job on a thread and follow it; the gate opens once the first delta arrived."""
    seen: dict[str, Any] = {"items": []}
    worker = threading.Thread(target=lambda: seen.update(step=process_job(api.runtime, job_id)))

    async def read() -> None:
        worker.start()
        async for item in follow(api.runtime, job_id, 30):
            seen["items"].append(item)
            if len(seen["items"]) == 1:
                seen["status_at_first_delta"] = _job(api, job_id).status
                if leave:
                    await caller_left(api.runtime, job_id)
                    seen["items"].append("left")
                chat.gate.set()
                if leave:
                    break

    asyncio.run(read())
    worker.join(10)
    return seen


def _text(items: list[Any]) -> str:
    return "".join(i.text for i in items if isinstance(i, TextDelta))


def test_deltas_reach_the_follower_while_the_job_runs(tmp_path: Path) -> None:
    api = _api(tmp_path)
    job_id = _submit(api)
    chat = GatedStream()
    api.runtime._chat[_job(api, job_id).model or ""] = chat
    seen = _follow(api, job_id, chat)
    # The provider could not finish before the follower had its first delta.
    assert isinstance(seen["items"][0], TextDelta) and seen["status_at_first_delta"] == "running"
    assert isinstance(seen["items"][-1], StreamEnded)
    job = _job(api, job_id)
    assert job.status == "succeeded" and _text(seen["items"]) == job.result["content"]
    assert job.result["usage"] == {
        "prompt_tokens": 40,
        "completion_tokens": 6,
        "cache_read_input_tokens": 0,
        "cache_creation_input_tokens": 0,
    }
    assert _cost_events(api, job_id) == 1 and chat.calls == 1


def test_a_cached_answer_is_replayed_whole(tmp_path: Path) -> None:
    api = _api(tmp_path)
    first = _submit(api)
    chat = GatedStream()
    chat.gate.set()
    api.runtime._chat[_job(api, first).model or ""] = chat
    assert process_job(api.runtime, first) is Step.SUCCEEDED
    second = _submit(api)
    assert process_job(api.runtime, second) is Step.SUCCEEDED and chat.calls == 1

    async def read() -> list[Any]:
        return [item async for item in follow(api.runtime, second, 10)]

    items = asyncio.run(read())
    assert items[0] == TextDelta("".join(WORDS)) and isinstance(items[1], StreamEnded)
    assert items[1].job.result["cached"] is True


def test_cancel_on_disconnect_stops_the_stream_and_charges_what_was_billed(
    tmp_path: Path,
) -> None:
    api = _api(tmp_path, stream_on_disconnect="cancel")
    job_id = _submit(api)
    # Words slower than the flush interval: each write (which reads the cancel flag) is its own.
    chat = GatedStream(pause=4 * api.settings.stream_flush_ms / 1000)
    api.runtime._chat[_job(api, job_id).model or ""] = chat
    seen = _follow(api, job_id, chat, leave=True)
    assert seen["step"] is Step.CANCELLED and chat.closed
    job = _job(api, job_id)
    assert job.status == "cancelled" and job.error["code"] == "cancelled"
    assert 0 < job.tokens_out < 6 and job.tokens_in > 0  # the input in full, the output so far
    price = api.runtime.catalogue.price(job.model or "")
    assert job.cost == price.cost(job.tokens_in, job.tokens_out) > Decimal(0)
    assert _cost_events(api, job_id) == 1
    assert process_job(api.runtime, job_id) is Step.SKIPPED


def test_a_joined_job_is_not_cancelled_by_one_caller_leaving(tmp_path: Path) -> None:
    api = _api(tmp_path, stream_on_disconnect="cancel")
    job_id = _submit(api)
    assert _submit(api) == job_id  # an identical request joins it
    chat = GatedStream(pause=4 * api.settings.stream_flush_ms / 1000)
    api.runtime._chat[_job(api, job_id).model or ""] = chat
    seen = _follow(api, job_id, chat, leave=True)
    assert seen["step"] is Step.SUCCEEDED
    job = _job(api, job_id)
    assert job.status == "succeeded" and job.result["content"] == "".join(WORDS)
    assert _cost_events(api, job_id) == 1


def test_finish_on_disconnect_runs_the_job_to_its_end(tmp_path: Path) -> None:
    api = _api(tmp_path)
    job_id = _submit(api)
    chat = GatedStream()
    api.runtime._chat[_job(api, job_id).model or ""] = chat
    seen = _follow(api, job_id, chat, leave=True)
    assert seen["step"] is Step.SUCCEEDED and _job(api, job_id).status == "succeeded"
    assert _cost_events(api, job_id) == 1


def test_fallback_before_the_first_delta_but_not_after(tmp_path: Path) -> None:
    api = Api(local_settings(tmp_path))
    job_id = _submit(api)
    routed = _job(api, job_id).model or ""
    other = api.settings.premium_model
    api.runtime._chat[routed] = GatedStream(fail_at=0)
    backup = GatedStream()
    backup.gate.set()
    api.runtime._chat[other] = backup
    assert process_job(api.runtime, job_id) is Step.SUCCEEDED
    assert _job(api, job_id).model == other and backup.calls == 1

    late = _submit(api, "stream me again")
    api.runtime._chat[routed] = broken = GatedStream(fail_at=3)
    broken.gate.set()
    with pytest.raises(ProviderTransient):
        process_job(api.runtime, late)
    assert backup.calls == 1 and _job(api, late).status == "queued"  # runs again, whole


def test_tool_calls_are_streamed_and_recorded_in_openai_shape(tmp_path: Path) -> None:
    api = Api(local_settings(tmp_path))
    body = _body("which file?")
    body["input"]["tools"] = [{"type": "function", "function": {"name": "ls", "parameters": {}}}]
    request = CompleteJobRequest.model_validate(body)
    job_id = submit_job(api.runtime, api.celery, "tenant-a", request).job.id

    async def run() -> list[Any]:
        worker = threading.Thread(target=process_job, args=(api.runtime, job_id))
        worker.start()
        items = [item async for item in follow(api.runtime, job_id, 10)]
        worker.join(10)
        return items

    items = asyncio.run(run())
    job = _job(api, job_id)
    (call,) = job.result["tool_calls"]
    assert call["type"] == "function" and call["function"]["name"] == "ls"
    assert job.result["finish_reason"] == "tool_calls"
    fragments = [i for i in items if isinstance(i, ToolCallDelta)]
    assert fragments[0].id == call["id"] and fragments[0].name == "ls"
    assert "".join(f.arguments for f in fragments) == call["function"]["arguments"]


def test_prompt_cache_reads_and_writes_are_priced_and_their_saving_kept(tmp_path: Path) -> None:
    api = Api(local_settings(tmp_path))
    catalogue, model = api.runtime.catalogue, api.settings.premium_model
    answer = ChatResult("hi", model, 1000, 10, "stop", "anthropic", (), 800, 100)
    outcome = price_answer(answer, model, catalogue, model)
    price = catalogue.price(model)
    assert outcome.cost == price.cost(1000, 10, cached_tokens_in=800, cache_write_tokens=100)
    assert outcome.baseline_cost == price.cost(1000, 10)
    assert outcome.provider_cache_savings == price.cost(800) - price.cost(800, cached_tokens_in=800)
    assert outcome.provider_cache_savings > 0
    assert (outcome.tokens_cache_read, outcome.tokens_cache_write) == (800, 100)
    usage = outcome.result["usage"]
    assert (usage["cache_read_input_tokens"], usage["cache_creation_input_tokens"]) == (800, 100)
