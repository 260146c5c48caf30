"""Complete jobs through the cache: a hit costs 0, records its saving, and stays in its tenant."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from grump.jobs.models import CompleteJobRequest
from grump.jobs.run import Step, process_job
from grump.jobs.submit import submit_job
from grump.ledger.models import Job
from grump.ledger.money_models import CostEvent
from grump.providers.base import ChatRequest, ChatResult
from grump.runtime import Runtime
from tests.conftest import Api, local_settings


class CountingChat:
    name = "counting"

    def __init__(self) -> None:
        self.calls = 0

    def complete(self, request: ChatRequest) -> ChatResult:
        self.calls += 1
        return ChatResult(f"answer {self.calls}", request.model, 40, 20, "stop", self.name)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    instance = Api(local_settings(tmp_path))
    yield instance
    instance.client.close()
    instance.runtime.dispose()


def _request(content: str = "tell me a joke", **extra: Any) -> CompleteJobRequest:
    body = {"messages": [{"role": "user", "content": content}], "max_tokens": 50} | extra
    return CompleteJobRequest.model_validate({"kind": "complete", "input": body})


def _run(api: Api, runtime: Runtime, tenant: str, request: CompleteJobRequest) -> Job:
    job_id = submit_job(api.runtime, api.celery, tenant, request).job.id
    assert process_job(runtime, job_id) is Step.SUCCEEDED
    with api.runtime.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def _event(api: Api, job_id: uuid.UUID) -> CostEvent:
    with api.runtime.sessions() as session:
        event = session.query(CostEvent).filter_by(job_id=job_id).one()
        return event


def _chat(runtime: Runtime, model: str) -> CountingChat:
    chat = CountingChat()
    runtime._chat[model] = chat
    return chat


def test_a_repeat_is_answered_from_the_cache_at_no_cost(api: Api) -> None:
    model = api.settings.economy_model
    chat = _chat(api.runtime, model)
    first = _run(api, api.runtime, "tenant-a", _request())
    repeat = _run(api, api.runtime, "tenant-a", _request())
    assert chat.calls == 1
    assert repeat.result is not None and first.result is not None
    assert repeat.result["content"] == first.result["content"] == "answer 1"
    assert repeat.result["cached"] is True and "cached" not in first.result
    assert repeat.result["usage"] == first.result["usage"]  # callers still see the size
    assert repeat.cost == Decimal(0) and (repeat.tokens_in, repeat.tokens_out) == (0, 0)
    hit, miss = _event(api, repeat.id), _event(api, first.id)
    assert hit.cached and not miss.cached
    assert hit.cache_savings == miss.cost > 0
    assert hit.baseline_cost == miss.baseline_cost
    assert hit.routing_savings == miss.routing_savings
    assert hit.provider == "cache"


def test_another_tenant_never_gets_the_cached_answer(api: Api) -> None:
    chat = _chat(api.runtime, api.settings.economy_model)
    _run(api, api.runtime, "tenant-a", _request())
    other = _run(api, api.runtime, "tenant-b", _request())
    assert chat.calls == 2
    assert other.result is not None and other.result["content"] == "answer 2"
    assert not _event(api, other.id).cached


@pytest.mark.parametrize(
    "changed", [_request(temperature=0.7), _request(max_tokens=51), _request("tell me a pun")]
)
def test_a_request_differing_in_what_changes_the_answer_misses(
    api: Api, changed: CompleteJobRequest
) -> None:
    chat = _chat(api.runtime, api.settings.economy_model)
    _run(api, api.runtime, "tenant-a", _request())
    job = _run(api, api.runtime, "tenant-a", changed)
    assert chat.calls == 2 and job.cost > 0


def test_a_new_process_finds_the_answer_on_disk(api: Api) -> None:
    _chat(api.runtime, api.settings.economy_model)
    _run(api, api.runtime, "tenant-a", _request())
    restarted = Runtime(api.settings)  # its memory tier is empty
    chat = _chat(restarted, api.settings.economy_model)
    try:
        job = _run(api, restarted, "tenant-a", _request())
    finally:
        restarted.dispose()
    assert chat.calls == 0 and job.cost == 0 and _event(api, job.id).cached


def test_with_the_cache_off_every_request_is_a_call(tmp_path: Path) -> None:
    api = Api(local_settings(tmp_path, cache_enabled=False))
    try:
        chat = _chat(api.runtime, api.settings.economy_model)
        _run(api, api.runtime, "tenant-a", _request())
        _run(api, api.runtime, "tenant-a", _request())
    finally:
        api.client.close()
        api.runtime.dispose()
    assert chat.calls == 2
