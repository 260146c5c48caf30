"""Recording a batch: one transaction, job by job when it fails, an outage as the worker says.

The cpu worker lets a ledger outage propagate (its batch is delivered again);
the gpu worker hands each job to its error handler (which retries it). Either
way every job of the batch ends recorded, skipped or handed to the handler.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from grump.errors import DatabaseUnavailable
from grump.jobs.batch_rows import OnOutage, record_batch
from grump.jobs.models import JobStatus, Outcome, ParseJobRequest
from grump.jobs.submit import submit_job
from grump.ledger.db import make_engine, make_sessionmaker
from grump.ledger.models import Job
from tests.conftest import Api, local_settings


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    built = Api(local_settings(tmp_path))
    yield built
    built.runtime.dispose()


def queued_jobs(api: Api, count: int) -> list[Job]:
    ids = []
    for i in range(count):
        request = ParseJobRequest.model_validate({"kind": "parse", "input": {"text": f"app {i}"}})
        ids.append(submit_job(api.runtime, api.celery, "tenant-a", request).job.id)
    with api.runtime.sessions() as session:
        jobs = {job.id: job for job in session.scalars(select(Job).where(Job.id.in_(ids)))}
        session.expunge_all()
    return [jobs[i] for i in ids]


def outcome(result: object = None) -> Outcome:
    return Outcome({"parsed": result}, "m", "p", 1, 0, Decimal("0.001"), Decimal("0.001"))


def statuses(api: Api, jobs: list[Job]) -> list[str]:
    with api.runtime.sessions() as session:
        rows = session.scalars(select(Job).where(Job.id.in_(jobs_ids(jobs))))
        found = {job.id: job.status for job in rows}
    return [found[job.id] for job in jobs]


def jobs_ids(jobs: list[Job]) -> list[uuid.UUID]:
    return [job.id for job in jobs]


def test_a_row_that_cannot_be_written_fails_alone_and_the_rest_are_recorded(api: Api) -> None:
    jobs = queued_jobs(api, 3)
    finished = [(jobs[0], outcome()), (jobs[1], outcome(object())), (jobs[2], outcome())]
    handed: list[uuid.UUID] = []
    batch = record_batch(
        api.runtime.sessions, finished, lambda job, _: handed.append(job.id), OnOutage.RAISE
    )
    assert jobs_ids([job for job, _ in batch.recorded]) == [jobs[0].id, jobs[2].id]
    assert handed == [jobs[1].id]
    assert batch.skipped == []
    succeeded = JobStatus.SUCCEEDED.value
    assert statuses(api, jobs) == [succeeded, JobStatus.QUEUED.value, succeeded]


def test_a_job_final_already_is_skipped_and_charged_once(api: Api) -> None:
    jobs = queued_jobs(api, 2)
    first = record_batch(api.runtime.sessions, [(jobs[0], outcome())], _no_error, OnOutage.RAISE)
    assert jobs_ids([job for job, _ in first.recorded]) == [jobs[0].id]
    again = record_batch(
        api.runtime.sessions, [(job, outcome()) for job in jobs], _no_error, OnOutage.RAISE
    )
    assert jobs_ids([job for job, _ in again.recorded]) == [jobs[1].id]
    assert again.skipped == [jobs[0].id]


def _no_error(job: Job, exc: Exception) -> None:
    raise AssertionError(f"job {job.id} handed an error: {exc}")


@pytest.fixture
def ledger_down() -> Iterator[str]:
    """A Postgres URL on a port where nothing listens: every connection is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    yield f"postgresql+psycopg://grump:grump@127.0.0.1:{port}/grump"


def test_an_outage_propagates_when_the_batch_is_to_run_again(api: Api, ledger_down: str) -> None:
    jobs = queued_jobs(api, 2)
    engine = make_engine(ledger_down)
    handed: list[uuid.UUID] = []
    with pytest.raises(DatabaseUnavailable):
        record_batch(
            make_sessionmaker(engine),
            [(job, outcome()) for job in jobs],
            lambda job, _: handed.append(job.id),
            OnOutage.RAISE,
        )
    engine.dispose()
    assert handed == []


def test_an_outage_is_each_jobs_error_when_jobs_are_retried_alone(
    api: Api, ledger_down: str
) -> None:
    jobs = queued_jobs(api, 2)
    engine = make_engine(ledger_down)
    handed: list[tuple[uuid.UUID, type[Exception]]] = []
    batch = record_batch(
        make_sessionmaker(engine),
        [(job, outcome()) for job in jobs],
        lambda job, exc: handed.append((job.id, type(exc))),
        OnOutage.PER_JOB,
    )
    engine.dispose()
    assert handed == [(job.id, DatabaseUnavailable) for job in jobs]
    assert batch.recorded == [] and batch.skipped == []
