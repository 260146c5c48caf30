"""SQLAlchemy 2 models of the ledger's money: cost events, budgets, rollups and stored reports."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from grump.ledger.models import ZERO, Base
from grump.ledger.money_units import MoneyUnits
from grump.ledger.types import Money, UTCDateTime


class CostEvent(Base):
    """Append-only: one per job, ever. The unique job_id is what makes charging exactly-once."""

    __tablename__ = "cost_events"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    job_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("jobs.id"), unique=True)
    tenant: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    session_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    kind: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(200))
    tier: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str] = mapped_column(String(32))
    tokens_in: Mapped[int] = mapped_column(Integer)
    tokens_out: Mapped[int] = mapped_column(Integer)
    tokens_cache_read: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    tokens_cache_write: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cost: Mapped[Decimal] = mapped_column(Money)
    baseline_cost: Mapped[Decimal] = mapped_column(Money)
    cache_savings: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    routing_savings: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    # What reading the provider's prompt cache saved against the full input price.
    provider_cache_savings: Mapped[Decimal] = mapped_column(Money, default=ZERO, server_default="0")
    # What the provider's batch discount saved (a deferred job answered in a batch).
    batch_savings: Mapped[Decimal] = mapped_column(Money, default=ZERO, server_default="0")
    # The second baseline (grump.money.baselines): the same requests sent direct to the
    # premium model with the client's own cache_control breakpoints (``baseline_cost``
    # is the first: premium, no cache). Equal to it when the client sent none.
    direct_baseline_cost: Mapped[Decimal] = mapped_column(Money, default=ZERO, server_default="0")
    # The baseline of the requests that joined this job in flight: they reached no provider.
    coalescing_savings: Mapped[Decimal] = mapped_column(Money, default=ZERO, server_default="0")
    # A parse job's premium price: work kept off the LLM, outside both baselines.
    kept_off_llm: Mapped[Decimal] = mapped_column(Money, default=ZERO, server_default="0")
    cached: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


# Cost summaries filter one tenant's events by time.
Index("ix_cost_events_tenant_created", CostEvent.tenant, CostEvent.created_at)

TENANT_WIDE = ""  # Budget.user_id of a budget that covers every user of a tenant
NO_KEY = 0  # Budget.key_id of a budget that is not one key's


class Budget(Base):
    """A spending limit per calendar period (UTC): for a whole tenant, one user or one key of it.

    A key's budget has ``key_id`` set to the key's lineage (``ApiKey.lineage_id``).
    """

    __tablename__ = "budgets"
    __table_args__ = (
        UniqueConstraint("tenant", "user_id", "key_id", "period", name="uq_budgets_scope"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[str] = mapped_column(String(200), default=TENANT_WIDE)
    key_id: Mapped[int] = mapped_column(Integer, default=NO_KEY, server_default="0")
    period: Mapped[str] = mapped_column(String(16))  # budget_math.Period
    limit_usd: Mapped[Decimal] = mapped_column(MoneyUnits)
    alert_threshold: Mapped[Decimal] = mapped_column(Money)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class BudgetPeriod(Base):
    """One budget's counters for one calendar period: the row reservations update."""

    __tablename__ = "budget_periods"
    __table_args__ = (
        UniqueConstraint("budget_id", "period_start", name="uq_budget_periods_start"),
        Index("ix_budget_periods_tenant_end", "tenant", "period_end"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    budget_id: Mapped[int] = mapped_column(Integer, ForeignKey("budgets.id"))
    tenant: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[str] = mapped_column(String(200))
    period: Mapped[str] = mapped_column(String(16))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime] = mapped_column(UTCDateTime())
    limit_usd: Mapped[Decimal] = mapped_column(MoneyUnits)
    alert_threshold: Mapped[Decimal] = mapped_column(Money)
    spent: Mapped[Decimal] = mapped_column(MoneyUnits, default=ZERO)
    reserved: Mapped[Decimal] = mapped_column(MoneyUnits, default=ZERO)


class BudgetHold(Base):
    """Money a job holds on one budget period until it settles or is released."""

    __tablename__ = "budget_holds"

    job_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("jobs.id"), primary_key=True)
    period_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("budget_periods.id"), primary_key=True
    )
    # Kept so settlement locks budget rows in the order submits do (by budget id): no deadlock.
    budget_id: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(MoneyUnits)


class BudgetAlert(Base):
    """A threshold a budget period crossed; unique, so each alerts once per period."""

    __tablename__ = "budget_alerts"
    __table_args__ = (
        UniqueConstraint("period_id", "threshold", name="uq_budget_alerts_threshold"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    period_id: Mapped[int] = mapped_column(Integer, ForeignKey("budget_periods.id"))
    threshold: Mapped[Decimal] = mapped_column(Money)
    spent: Mapped[Decimal] = mapped_column(MoneyUnits)
    limit_usd: Mapped[Decimal] = mapped_column(MoneyUnits)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CostRollup(Base):
    """Cost events summed per hour or day, tenant, model, kind and tier."""

    __tablename__ = "cost_rollups"
    __table_args__ = (
        UniqueConstraint(
            "granularity",
            "bucket_start",
            "tenant",
            "model",
            "kind",
            "tier",
            name="uq_cost_rollups_bucket",
        ),
        Index("ix_cost_rollups_tenant_bucket", "tenant", "granularity", "bucket_start"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    granularity: Mapped[str] = mapped_column(String(8))  # "hour" or "day"
    bucket_start: Mapped[datetime] = mapped_column(UTCDateTime())
    tenant: Mapped[str] = mapped_column(String(100))
    model: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    tier: Mapped[str] = mapped_column(String(16))
    requests: Mapped[int] = mapped_column(BigInteger)
    tokens_in: Mapped[int] = mapped_column(BigInteger)
    tokens_out: Mapped[int] = mapped_column(BigInteger)
    cost: Mapped[Decimal] = mapped_column(MoneyUnits)
    baseline_cost: Mapped[Decimal] = mapped_column(MoneyUnits)
    cache_savings: Mapped[Decimal] = mapped_column(MoneyUnits)
    routing_savings: Mapped[Decimal] = mapped_column(MoneyUnits)
    tokens_cache_read: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    tokens_cache_write: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    provider_cache_savings: Mapped[Decimal] = mapped_column(
        MoneyUnits, default=ZERO, server_default="0"
    )
    batch_savings: Mapped[Decimal] = mapped_column(MoneyUnits, default=ZERO, server_default="0")
    direct_baseline_cost: Mapped[Decimal] = mapped_column(
        MoneyUnits, default=ZERO, server_default="0"
    )
    coalescing_savings: Mapped[Decimal] = mapped_column(
        MoneyUnits, default=ZERO, server_default="0"
    )
    kept_off_llm: Mapped[Decimal] = mapped_column(MoneyUnits, default=ZERO, server_default="0")


class RollupWatermark(Base):
    """The last cost event folded into the rollups: rollups never rescan history."""

    __tablename__ = "rollup_watermarks"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StoredReport(Base):
    """A rendered cost report; one per tenant, period kind and period start."""

    __tablename__ = "cost_reports"
    __table_args__ = (
        UniqueConstraint("tenant", "period", "period_start", name="uq_cost_reports_period"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(100))
    period: Mapped[str] = mapped_column(String(8))  # reports.ReportPeriod
    period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    html: Mapped[str] = mapped_column(Text)
    markdown: Mapped[str] = mapped_column(Text)
    csv: Mapped[str] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


# The tables themselves, for Core statements on hot paths (no ORM entity loading).
COST_EVENTS = cast(Table, CostEvent.__table__)
BUDGETS = cast(Table, Budget.__table__)
PERIODS = cast(Table, BudgetPeriod.__table__)
HOLDS = cast(Table, BudgetHold.__table__)
