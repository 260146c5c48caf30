"""What the API answers: jobs as JSON, money as exact decimal strings."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from grump.jobs.models import JobRequest
from grump.ledger.models import Job

if TYPE_CHECKING:
    from grump.jobs.records import JobRecord


class JobView(BaseModel):
    """A job as the API shows it: its state, its routing, its result or error, and what it cost."""

    id: str
    status: str
    kind: str
    tier: str
    queue: str
    model: str | None
    priority: int
    user: str | None
    session: str | None
    routing: dict[str, Any] | None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    attempts: int
    tokens_in: int
    tokens_out: int
    cost: str = Field(description="USD, exact decimal")
    baseline_cost: str = Field(description="USD on the premium model with no cache")
    coalesced: bool = False
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    links: dict[str, str]

    @classmethod
    def of(
        cls, job: Job | JobRecord, *, coalesced: bool = False, with_result: bool = True
    ) -> JobView:
        """The view of a job row, without its result when ``with_result`` is false (as in listings)."""
        return cls(
            id=str(job.id),
            status=job.status,
            kind=job.kind,
            tier=job.tier,
            queue=job.queue,
            model=job.model,
            priority=job.priority,
            user=job.user_id,
            session=job.session_id,
            routing=job.routing,
            result=job.result if with_result else None,
            error=job.error,
            attempts=job.attempts,
            tokens_in=job.tokens_in,
            tokens_out=job.tokens_out,
            cost=str(job.cost),
            baseline_cost=str(job.baseline_cost),
            coalesced=coalesced,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            links={"self": f"/v1/jobs/{job.id}"},
        )


class BatchSubmit(BaseModel):
    """Jobs to submit in one request."""

    jobs: list[JobRequest] = Field(min_length=1)


class BatchItem(BaseModel):
    """What became of one job of a batch: the job, or the error that refused it."""

    index: int
    job: JobView | None = None
    error: dict[str, Any] | None = None


class BatchAnswer(BaseModel):
    """The outcome of each job of a batch, by its index in the request."""

    items: list[BatchItem]


class JobPage(BaseModel):
    """One page of jobs, newest first, with the cursor of the next page when there is one."""

    items: list[JobView]
    next_cursor: str | None


class ErrorBody(BaseModel):
    """grump's error shape: ``{"error": {"code", "message"}}``, with ``field`` and ``reason`` when a field is at fault."""

    error: dict[str, Any]
