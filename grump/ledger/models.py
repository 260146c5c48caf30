"""SQLAlchemy 2 models of the ledger: keys, jobs and message batches (money: ``money_models``).

Alembic migrations mirror these and ``grump.ledger.money_models``."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from grump.ledger.types import Money, UTCDateTime

ZERO = Decimal(0)
# Only these states take part in coalescing: a finished job never blocks a new one.
INFLIGHT_SQL = "status IN ('queued', 'running')"
# Fair share (grump.jobs.admission): a job published and unfinished, or held (never published).
PUBLISHED_SQL = f"{INFLIGHT_SQL} AND enqueued_at IS NOT NULL"
HELD_SQL = "status = 'queued' AND enqueued_at IS NULL"


class Base(DeclarativeBase):
    """The declarative base of every ledger table."""

    pass


class ApiKey(Base):
    """A tenant's API key, stored as its hash and first characters, never whole.

    A key works until it is revoked, until ``expires_at``, and, once rotated, until
    ``grace_until``. Keys rotated from one another share a ``lineage_id`` (the first
    key's id): per-key budgets and rate limits belong to the lineage, so the old and
    the new key of a rotation spend from one budget and one limit.
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(100), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    grace_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    lineage_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rps_limit: Mapped[float | None] = mapped_column(Float, nullable=True)
    tpm_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Job(Base):
    """One submitted job: what was asked, where it was routed, its state, its result or error, and its money."""

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("tenant", "idempotency_key", name="uq_jobs_idempotency"),
        Index(
            "uq_jobs_inflight_fingerprint",
            "tenant",
            "fingerprint",
            unique=True,
            postgresql_where=text(INFLIGHT_SQL),
            sqlite_where=text(INFLIGHT_SQL),
        ),
        Index("ix_jobs_status_deadline", "status", "deadline_at"),
        Index("ix_jobs_tenant_created", "tenant", "created_at", "id"),
        Index(
            "ix_jobs_published",
            "tenant",
            "queue",
            postgresql_where=text(PUBLISHED_SQL),
            sqlite_where=text(PUBLISHED_SQL),
        ),
        Index(
            "ix_jobs_held",
            "tenant",
            "queue",
            text("priority DESC"),
            "created_at",
            "id",
            postgresql_where=text(HELD_SQL),
            sqlite_where=text(HELD_SQL),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    tenant: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    session_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    priority: Mapped[int] = mapped_column(Integer, default=5)
    tier: Mapped[str] = mapped_column(String(16))
    queue: Mapped[str] = mapped_column(String(32))
    model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    routing: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    input: Mapped[dict[str, Any]] = mapped_column(JSON)
    fingerprint: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The worker process running the job (``grump.jobs.leases``), and how many of its
    # deliveries ended with their worker dead: the poison-job count.
    claimed_by: Mapped[str | None] = mapped_column(String(120), nullable=True)
    worker_losses: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    tokens_in: Mapped[int] = mapped_column(Integer, default=0)
    tokens_out: Mapped[int] = mapped_column(Integer, default=0)
    # Anthropic's prompt cache: input tokens read from it and written to it (in tokens_in too).
    tokens_cache_read: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    tokens_cache_write: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cost: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    baseline_cost: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    reserved_cost: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    coalesced_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # When its message was published; unset while fair share holds it (grump.jobs.admission).
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # A deferred job (``grump.jobs.batches``): the latest it may be answered, the
    # Message Batch holding it (``message_batches.id``), and the key lineage it was
    # submitted under (its per-key budget, should it run again as an ordinary job).
    defer_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    batch_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    lineage_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


Index(
    "ix_jobs_deferred_unbatched",
    Job.defer_until,
    postgresql_where=text("defer_until IS NOT NULL AND batch_id IS NULL"),
    sqlite_where=text("defer_until IS NOT NULL AND batch_id IS NULL"),
)


# The table itself, for Core statements on hot paths (no ORM entity loading).
JOBS = cast(Table, Job.__table__)


class MessageBatch(Base):
    """One provider batch of deferred jobs, written before it is created so a crash loses nothing.

    ``state``: ``pending`` (its jobs claimed; the provider call may or may not have
    happened), ``in_progress`` (the provider's id known), ``ended`` (results recorded).
    """

    __tablename__ = "message_batches"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    provider_batch_id: Mapped[str | None] = mapped_column(String(120), nullable=True, unique=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    request_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
