"""budgets, budget periods, holds and alerts; cost rollups; stored reports

Budget counters and rollup sums are BIGINT counts of 1e-10 USD
(grump.ledger.money_units): exact integer arithmetic on Postgres and SQLite.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 21:09:01.628431
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from grump.ledger.types import Money

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "budgets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("limit_usd", sa.BigInteger(), nullable=False),
        sa.Column("alert_threshold", Money(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant", "user_id", "period", name="uq_budgets_scope"),
    )
    op.create_table(
        "cost_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("markdown", sa.Text(), nullable=False),
        sa.Column("csv", sa.Text(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant", "period", "period_start", name="uq_cost_reports_period"),
    )
    op.create_table(
        "cost_rollups",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("granularity", sa.String(length=8), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("tokens_in", sa.BigInteger(), nullable=False),
        sa.Column("tokens_out", sa.BigInteger(), nullable=False),
        sa.Column("cost", sa.BigInteger(), nullable=False),
        sa.Column("baseline_cost", sa.BigInteger(), nullable=False),
        sa.Column("cache_savings", sa.BigInteger(), nullable=False),
        sa.Column("routing_savings", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "granularity",
            "bucket_start",
            "tenant",
            "model",
            "kind",
            "tier",
            name="uq_cost_rollups_bucket",
        ),
    )
    with op.batch_alter_table("cost_rollups", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cost_rollups_tenant_bucket", ["tenant", "granularity", "bucket_start"], unique=False
        )

    op.create_table(
        "rollup_watermarks",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "budget_periods",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("budget_id", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("limit_usd", sa.BigInteger(), nullable=False),
        sa.Column("alert_threshold", Money(), nullable=False),
        sa.Column("spent", sa.BigInteger(), nullable=False),
        sa.Column("reserved", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["budget_id"],
            ["budgets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("budget_id", "period_start", name="uq_budget_periods_start"),
    )
    with op.batch_alter_table("budget_periods", schema=None) as batch_op:
        batch_op.create_index(
            "ix_budget_periods_tenant_end", ["tenant", "period_end"], unique=False
        )

    op.create_table(
        "budget_alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("threshold", Money(), nullable=False),
        sa.Column("spent", sa.BigInteger(), nullable=False),
        sa.Column("limit_usd", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["period_id"],
            ["budget_periods.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("period_id", "threshold", name="uq_budget_alerts_threshold"),
    )
    op.create_table(
        "budget_holds",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("budget_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
        ),
        sa.ForeignKeyConstraint(
            ["period_id"],
            ["budget_periods.id"],
        ),
        sa.PrimaryKeyConstraint("job_id", "period_id"),
    )
    with op.batch_alter_table("cost_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cost_events_tenant_created", ["tenant", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("cost_events", schema=None) as batch_op:
        batch_op.drop_index("ix_cost_events_tenant_created")

    op.drop_table("budget_holds")
    op.drop_table("budget_alerts")
    with op.batch_alter_table("budget_periods", schema=None) as batch_op:
        batch_op.drop_index("ix_budget_periods_tenant_end")

    op.drop_table("budget_periods")
    op.drop_table("rollup_watermarks")
    with op.batch_alter_table("cost_rollups", schema=None) as batch_op:
        batch_op.drop_index("ix_cost_rollups_tenant_bucket")

    op.drop_table("cost_rollups")
    op.drop_table("cost_reports")
    op.drop_table("budgets")
