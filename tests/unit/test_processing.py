"""Exactly-once effects: a job runs, records its result and one cost event, and never again."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from grump.errors import ProviderError, ProviderTransient
from grump.jobs.models import CompleteJobRequest
from grump.jobs.run import Step, fail_job, process_job
from grump.jobs.submit import submit_job
from grump.ledger.models import Job
from grump.ledger.money_models import CostEvent
from grump.providers.base import ChatRequest, ChatResult
from tests.conftest import Api, local_settings

COMPLETE = {
    "kind": "complete",
    "input": {"messages": [{"role": "user", "content": "say hi"}], "max_tokens": 20},
}


class ScriptedChat:
    """A provider that raises the scripted errors first, then answers."""

    name = "scripted"

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def complete(self, request: ChatRequest) -> ChatResult:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return ChatResult("hi", request.model, 10, 5, "stop", self.name)


@pytest.fixture
def queued(tmp_path: Path) -> tuple[Api, uuid.UUID]:
    # No fallback to the other tier: these tests are about what the routed provider does.
    api = Api(local_settings(tmp_path, fallback_to_other_tier=False))
    request = CompleteJobRequest.model_validate(COMPLETE)
    job = submit_job(api.runtime, api.celery, "tenant-a", request).job
    return api, job.id


def _events(api: Api, job_id: uuid.UUID) -> int:
    with api.runtime.sessions() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(CostEvent).where(CostEvent.job_id == job_id)
            )
            or 0
        )


def _job(api: Api, job_id: uuid.UUID) -> Job:
    with api.runtime.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def test_a_job_is_recorded_and_charged_once_however_often_it_runs(
    queued: tuple[Api, uuid.UUID],
) -> None:
    api, job_id = queued
    chat = ScriptedChat()
    api.runtime._chat[_job(api, job_id).model or ""] = chat
    assert process_job(api.runtime, job_id) is Step.SUCCEEDED
    assert process_job(api.runtime, job_id) is Step.SKIPPED  # a redelivered message
    assert chat.calls == 1
    assert _events(api, job_id) == 1
    job = _job(api, job_id)
    assert job.status == "succeeded" and job.attempts == 1
    assert (job.tokens_in, job.tokens_out) == (10, 5)
    price = api.runtime.catalogue.price(job.model or "")
    assert job.cost == price.cost(10, 5) and isinstance(job.cost, Decimal)
    premium = api.runtime.catalogue.price(api.settings.premium_model)
    assert job.baseline_cost == max(premium.cost(10, 5), job.cost)


def test_transient_errors_propagate_for_retry_and_charge_nothing(
    queued: tuple[Api, uuid.UUID],
) -> None:
    api, job_id = queued
    chat = ScriptedChat(ProviderTransient("429 from provider"))
    api.runtime._chat[_job(api, job_id).model or ""] = chat
    with pytest.raises(ProviderTransient):
        process_job(api.runtime, job_id)
    # Given back to queued: the retry claims it afresh, not as a takeover from a dead worker.
    assert _job(api, job_id).status == "queued" and _events(api, job_id) == 0
    assert process_job(api.runtime, job_id) is Step.SUCCEEDED
    job = _job(api, job_id)
    assert job.attempts == 2 and _events(api, job_id) == 1


def test_a_failed_job_keeps_the_providers_message(queued: tuple[Api, uuid.UUID]) -> None:
    api, job_id = queued
    assert fail_job(api.runtime, job_id, ProviderError("model refused: context too long"))
    job = _job(api, job_id)
    assert job.status == "failed" and job.error is not None
    assert job.error["message"] == "model refused: context too long"
    assert process_job(api.runtime, job_id) is Step.SKIPPED
    assert _events(api, job_id) == 0


def test_a_cancelled_job_never_runs(queued: tuple[Api, uuid.UUID]) -> None:
    api, job_id = queued
    response = api.client.delete(f"/v1/jobs/{job_id}", headers=api.auth())
    assert response.status_code == 200
    chat = ScriptedChat()
    api.runtime._chat[_job(api, job_id).model or ""] = chat
    assert process_job(api.runtime, job_id) is Step.SKIPPED
    assert chat.calls == 0 and _events(api, job_id) == 0
