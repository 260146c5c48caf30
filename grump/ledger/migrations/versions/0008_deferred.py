"""deferred jobs through provider batches: the jobs' deadline and batch, the batches, batch savings (events, rollups)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from grump.ledger.money_units import MoneyUnits
from grump.ledger.types import Money, UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_UNBATCHED = "defer_until IS NOT NULL AND batch_id IS NULL"


def upgrade() -> None:
    op.create_table(
        "message_batches",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("provider_batch_id", sa.String(120), nullable=True, unique=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("request_count", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("submitted_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_message_batches_state", "message_batches", ["state"])
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("defer_until", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("batch_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("lineage_id", sa.Integer(), nullable=True))
    op.create_index("ix_jobs_batch_id", "jobs", ["batch_id"])
    op.create_index(
        "ix_jobs_deferred_unbatched",
        "jobs",
        ["defer_until"],
        postgresql_where=sa.text(_UNBATCHED),
        sqlite_where=sa.text(_UNBATCHED),
    )
    with op.batch_alter_table("cost_events") as batch:
        batch.add_column(sa.Column("batch_savings", Money(), nullable=False, server_default="0"))
    with op.batch_alter_table("cost_rollups") as batch:
        batch.add_column(
            sa.Column("batch_savings", MoneyUnits(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("cost_rollups") as batch:
        batch.drop_column("batch_savings")
    with op.batch_alter_table("cost_events") as batch:
        batch.drop_column("batch_savings")
    op.drop_index("ix_jobs_deferred_unbatched", table_name="jobs")
    op.drop_index("ix_jobs_batch_id", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        for name in ("lineage_id", "batch_id", "defer_until"):
            batch.drop_column(name)
    op.drop_index("ix_message_batches_state", table_name="message_batches")
    op.drop_table("message_batches")
