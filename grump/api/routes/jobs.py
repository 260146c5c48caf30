"""/v1/jobs: submit, batch submit, read, list, cancel."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Header, Query
from sqlalchemy import select, tuple_

from grump.api.deps import CeleryDep, PrincipalDep, RuntimeDep
from grump.api.responses import ERROR_RESPONSES
from grump.api.schemas import BatchAnswer, BatchItem, BatchSubmit, JobPage, JobView
from grump.errors import Conflict, NotFound, RequestError, ValidationFailed
from grump.jobs import admission, rows
from grump.jobs.models import JobKind, JobRequest, JobStatus
from grump.jobs.submit import submit_job_async
from grump.jobs.waiters import await_final
from grump.ledger.aio import async_session_scope
from grump.ledger.db import session_scope
from grump.ledger.models import Job
from grump.runtime import Runtime

router = APIRouter(prefix="/v1", tags=["jobs"], responses=ERROR_RESPONSES)


def _job_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound(f"job {raw} not found") from None


@router.post("/jobs", status_code=202, response_model=JobView)
async def submit(
    request: Annotated[JobRequest, Body()],
    principal: PrincipalDep,
    runtime: RuntimeDep,
    celery: CeleryDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JobView:
    """Queue one job, or answer with the identical job already in flight or the one made under the same ``Idempotency-Key``."""
    done = await submit_job_async(
        runtime, celery, principal.tenant, request, idempotency_key, principal.caller
    )
    return JobView.of(done.job, coalesced=done.coalesced)


@router.post("/jobs:batch", status_code=202, response_model=BatchAnswer)
async def submit_batch(
    batch: BatchSubmit, principal: PrincipalDep, runtime: RuntimeDep, celery: CeleryDep
) -> BatchAnswer:
    """Queue several jobs at once; each item answers with its job or its own error, by index."""
    limit = runtime.settings.max_jobs_per_batch
    if len(batch.jobs) > limit:
        raise ValidationFailed("jobs", f"at most {limit} jobs per batch")
    items: list[BatchItem] = []
    # In order, one after another: a later item coalesces onto an earlier identical one.
    for index, request in enumerate(batch.jobs):
        try:
            done = await submit_job_async(
                runtime, celery, principal.tenant, request, caller=principal.caller
            )
        except RequestError as exc:
            # One bad job does not sink the batch; outages do (they raise).
            items.append(BatchItem(index=index, error=exc.to_dict()))
            continue
        items.append(BatchItem(index=index, job=JobView.of(done.job, coalesced=done.coalesced)))
    return BatchAnswer(items=items)


# The longest ``wait`` a read may ask for: long polls past it are better made again.
MAX_WAIT_SECONDS = 60.0


async def _read(runtime: Runtime, tenant: str, job_id: uuid.UUID) -> JobView:
    retry_after = runtime.settings.retry_after_seconds
    async with async_session_scope(runtime.aio_sessions, retry_after) as session:
        return JobView.of(await session.run_sync(rows.get_job, tenant, job_id))


@router.get("/jobs/{job_id}", response_model=JobView)
async def read(
    job_id: str,
    principal: PrincipalDep,
    runtime: RuntimeDep,
    wait: Annotated[float, Query(ge=0, le=MAX_WAIT_SECONDS)] = 0,
) -> JobView:
    """Read one of your jobs, with its result once it has one.

    ``wait=S`` holds the answer until the job ends or S seconds pass (at most 60):
    the caller is answered within milliseconds of the worker's commit.
    """
    ident = _job_id(job_id)
    view = await _read(runtime, principal.tenant, ident)
    if wait <= 0 or JobStatus(view.status).terminal:
        return view
    ended = await await_final(runtime, ident, wait)
    if ended is not None:
        return JobView.of(ended)
    return await _read(runtime, principal.tenant, ident)


def _encode_cursor(job: Job) -> str:
    raw = f"{job.created_at.isoformat()}|{job.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        stamp, ident = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(stamp), uuid.UUID(ident)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("cursor", "not a cursor this API gave out") from None


# Listing and cancelling stay sync (FastAPI runs them on its thread pool): neither waits on
# anything, and neither is on the path a job's caller takes per call.
@router.get("/jobs", response_model=JobPage)
def list_jobs(
    principal: PrincipalDep,
    runtime: RuntimeDep,
    status: JobStatus | None = None,
    kind: JobKind | None = None,
    user: str | None = None,
    session_id: Annotated[str | None, Query(alias="session")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> JobPage:
    """List your jobs, newest first, a page at a time, optionally filtered by status, kind, user or session."""
    query = select(Job).where(Job.tenant == principal.tenant)
    if status is not None:
        query = query.where(Job.status == status.value)
    if kind is not None:
        query = query.where(Job.kind == kind.value)
    if user is not None:
        query = query.where(Job.user_id == user)
    if session_id is not None:
        query = query.where(Job.session_id == session_id)
    if cursor is not None:
        query = query.where(tuple_(Job.created_at, Job.id) < tuple_(*_decode_cursor(cursor)))
    query = query.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit + 1)
    with session_scope(runtime.sessions, runtime.settings.retry_after_seconds) as session:
        rows = list(session.scalars(query))
    page = rows[:limit]
    next_cursor = _encode_cursor(page[-1]) if len(rows) > limit else None
    return JobPage(items=[JobView.of(j, with_result=False) for j in page], next_cursor=next_cursor)


@router.delete("/jobs/{job_id}", response_model=JobView)
def cancel(job_id: str, principal: PrincipalDep, runtime: RuntimeDep) -> JobView:
    """Cancel one of your jobs while it is still queued; a job already started or finished is a conflict."""
    ident = _job_id(job_id)
    with session_scope(runtime.sessions, runtime.settings.retry_after_seconds) as session:
        if not rows.cancel(session, principal.tenant, ident):
            job = rows.get_job(session, principal.tenant, ident)
            raise Conflict(f"job {ident} is {job.status}; only queued jobs can be cancelled")
    runtime.job_waiters.announce_final([ident])
    with session_scope(runtime.sessions, runtime.settings.retry_after_seconds) as session:
        view = JobView.of(rows.get_job(session, principal.tenant, ident))
    admission.job_ended(runtime, principal.tenant, view.queue)  # its slot, if it had one
    return view
