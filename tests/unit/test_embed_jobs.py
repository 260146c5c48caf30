"""A batch of embed jobs against the ledger: claimed together, embedded together, recorded together.

Per job the promises of single jobs hold: its own vectors, exactly one cost
event, a second run changes nothing; an error concerns only its own job.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from kombu.transport.redis import QoS as RedisQoS
from sqlalchemy import func, select

from grump.celery.queues import ECONOMY_QUEUE, EMBED_QUEUE, PARSE_QUEUE, PREMIUM_QUEUE
from grump.celery.task_names import COMPLETE_JOB_TASK, EMBED_JOBS_TASK, PARSE_JOBS_TASK
from grump.celery.tasks.batch_acks import acknowledge_together
from grump.celery.tasks.embed import messages_of
from grump.jobs.batch_rows import finish_many
from grump.jobs.claims import claim_jobs
from grump.jobs.embed.batch import process_embed_batch
from grump.jobs.enqueue import task_for
from grump.jobs.models import EmbedJobRequest, Outcome
from grump.jobs.submit import submit_job
from grump.ledger.db import session_scope
from grump.ledger.models import Job
from grump.ledger.money_models import BudgetPeriod, CostEvent
from tests.conftest import Api, local_settings
from tests.fakes.nim import FakeNim
from tests.fakes.server import server_error

TOKEN_LIMIT = 16


@pytest.fixture(scope="module")
def server() -> Iterator[FakeNim]:
    with FakeNim(token_limit=TOKEN_LIMIT, dimensions=32) as fake:
        yield fake


@pytest.fixture
def api(server: FakeNim, tmp_path: Path) -> Iterator[Api]:
    server.reset()
    settings = local_settings(
        tmp_path,
        nim_url=server.url,
        nim_api_key="k",
        provider_retry_attempts=1,
        embed_batch_wait_ms=5.0,
        task_max_retries=2,
    )
    built = Api(settings)
    yield built
    built.runtime.dispose()


def submit(api: Api, texts: list[str], tenant: str = "tenant-a") -> uuid.UUID:
    # truncate NONE: a text over the model's limit is refused rather than cut.
    payload = {"texts": texts, "dimensions": 32, "truncate": "NONE"}
    body: dict[str, Any] = {"kind": "embed", "input": payload}
    request = EmbedJobRequest.model_validate(body)
    return submit_job(api.runtime, api.celery, tenant, request).job.id


def jobs(api: Api, ids: list[uuid.UUID]) -> dict[uuid.UUID, Job]:
    with api.runtime.sessions() as session:
        return {j.id: j for j in session.scalars(select(Job).where(Job.id.in_(ids)))}


def event_count(api: Api) -> int:
    with api.runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(CostEvent)) or 0)


def embed_calls(server: FakeNim) -> list[list[str]]:
    return [r.body["input"] for r in server.requests if r.path == "/v1/embeddings"]


def test_a_batch_shares_calls_and_each_job_is_recorded_once(api: Api, server: FakeNim) -> None:
    texts = [[f"job {i} text {k}" for k in range(1 + i % 3)] for i in range(12)]
    ids = [submit(api, t) for t in texts]

    report = process_embed_batch(api.runtime, ids + ids[:2])  # two messages delivered twice

    assert sorted(report.succeeded) == sorted(ids)
    assert report.failed == [] and report.retry == [] and report.skipped == []
    assert len(embed_calls(server)) == 1  # twelve jobs, one provider call
    rows = jobs(api, ids)
    for job_id, job_texts in zip(ids, texts, strict=True):
        row = rows[job_id]
        assert row.status == "succeeded" and row.attempts == 1
        assert len(row.result["embeddings"]) == len(job_texts)
    assert event_count(api) == len(ids)

    again = process_embed_batch(api.runtime, ids)  # a redelivered batch
    assert sorted(again.skipped) == sorted(ids) and again.succeeded == []
    assert event_count(api) == len(ids)
    assert len(embed_calls(server)) == 1


def test_job_vectors_equal_those_of_a_batch_of_one(api: Api, server: FakeNim) -> None:
    texts = [["alpha beta", "gamma"], ["delta"], ["epsilon zeta", "eta", "theta"]]
    together = [submit(api, t) for t in texts]
    process_embed_batch(api.runtime, together)
    for job_texts, job_id in zip(texts, together, strict=True):
        alone = submit(api, job_texts, tenant="tenant-b")  # another tenant: no shared cache
        process_embed_batch(api.runtime, [alone])
        rows = jobs(api, [job_id, alone])
        assert rows[job_id].result["embeddings"] == rows[alone].result["embeddings"]


def test_a_refused_text_fails_only_its_own_job(api: Api, server: FakeNim) -> None:
    good = [submit(api, [f"short text {i}"]) for i in range(3)]
    poisoned = submit(api, ["word " * (TOKEN_LIMIT * 2)])
    report = process_embed_batch(api.runtime, [*good, poisoned])
    assert report.failed == [poisoned]
    assert sorted(report.succeeded) == sorted(good)
    row = jobs(api, [poisoned])[poisoned]
    assert row.status == "failed" and "token" in row.error["message"].lower()
    assert event_count(api) == 3


def test_a_failed_call_is_retried_then_fails_with_its_reason(api: Api, server: FakeNim) -> None:
    job_id = submit(api, ["will meet an outage"])
    outages = api.settings.task_max_retries + 1
    server.script(*[server_error("nim", 503)] * outages)
    for attempt in range(1, outages):
        report = process_embed_batch(api.runtime, [job_id])
        assert [(r.job_id, r.attempts) for r in report.retry] == [(job_id, attempt)]
        # Given back: its next delivery claims it afresh, not as a takeover from a dead worker.
        assert jobs(api, [job_id])[job_id].status == "queued"
    final = process_embed_batch(api.runtime, [job_id])
    assert final.failed == [job_id] and final.retry == []
    row = jobs(api, [job_id])[job_id]
    assert row.status == "failed" and "went wrong upstream" in row.error["message"]
    assert event_count(api) == 0


def test_budget_holds_of_a_batch_settle_to_the_recorded_costs(api: Api, server: FakeNim) -> None:
    admin = {"Authorization": f"Bearer {api.new_key('tenant-a', admin=True)}"}
    created = api.client.put("/v1/budgets/tenant-a/daily", json={"limit": "5"}, headers=admin)
    assert created.status_code == 200, created.text
    ids = [submit(api, [f"budgeted text {i}"] * 2) for i in range(5)]
    process_embed_batch(api.runtime, ids)
    with api.runtime.sessions() as session:
        period = session.scalars(select(BudgetPeriod)).one()
        spent = sum(session.scalars(select(CostEvent.cost)), Decimal(0))
    assert period.reserved == 0
    assert period.spent == spent > 0


def test_embed_jobs_go_to_the_batch_task_and_carry_their_priority() -> None:
    assert task_for(EMBED_QUEUE) == EMBED_JOBS_TASK
    assert task_for(PARSE_QUEUE) == PARSE_JOBS_TASK
    assert task_for(ECONOMY_QUEUE) == task_for(PREMIUM_QUEUE) == COMPLETE_JOB_TASK

    class Message:
        def __init__(self, args: list[Any], priority: int | None) -> None:
            self.id = "m"
            self.args = args
            self.delivery_info = {"priority": priority}

    first, second = uuid.uuid4(), uuid.uuid4()
    found = messages_of([Message([str(first)], 0), Message(["not a uuid"], 3), Message([], 3)])
    assert found == {first: 9}
    assert messages_of([Message([str(second)], None)]) == {second: 5}


def test_a_batch_is_recorded_in_one_transaction_without_falling_back(
    api: Api, server: FakeNim, caplog: pytest.LogCaptureFixture
) -> None:
    ids = [submit(api, [f"one transaction {i}"]) for i in range(6)]
    with caplog.at_level(logging.WARNING, logger="grump.jobs.batch_rows"):
        report = process_embed_batch(api.runtime, ids)
    assert sorted(report.succeeded) == sorted(ids)
    assert "one by one" not in caplog.text


def test_a_job_finished_elsewhere_meanwhile_is_not_charged_twice(api: Api, server: FakeNim) -> None:
    ids = [submit(api, [f"raced {i}"]) for i in range(3)]
    claimed = claim_jobs(api.runtime, ids)
    outcome = Outcome({"embeddings": []}, "m", "p", 1, 0, Decimal("0.01"), Decimal("0.01"))
    with session_scope(api.runtime.sessions) as session:
        assert finish_many(session, [(claimed[0], outcome)]) == [claimed[0].id]
    with session_scope(api.runtime.sessions) as session:
        recorded = finish_many(session, [(job, outcome) for job in claimed])
    assert sorted(recorded) == sorted(j.id for j in claimed[1:])
    assert event_count(api) == 3


class FakeRequest:
    def __init__(self, channel: object) -> None:
        self.acknowledged = False
        self.message = type("Message", (), {"channel": channel, "delivery_tag": "t"})()

    def acknowledge(self) -> None:
        self.acknowledged = True


def test_messages_of_other_transports_are_acknowledged_one_by_one() -> None:
    requests = [FakeRequest(object()) for _ in range(3)]
    acknowledge_together(requests)
    assert all(r.acknowledged for r in requests)


def test_a_failed_pipeline_falls_back_to_one_by_one() -> None:
    class BrokenQoS(RedisQoS):
        def __init__(self) -> None:  # no channel behind it: every Redis call fails
            pass

    channel = type("Channel", (), {"qos": BrokenQoS()})()
    requests = [FakeRequest(channel) for _ in range(2)]
    acknowledge_together(requests)
    assert all(r.acknowledged for r in requests)
