"""fair share: indexes for a tenant's published jobs per queue and its held ones in release order

A held job is a queued job with ``enqueued_at`` unset (grump.jobs.admission): no
column is added, only the two partial indexes admission and release read.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_PUBLISHED = "status IN ('queued', 'running') AND enqueued_at IS NOT NULL"
_HELD = "status = 'queued' AND enqueued_at IS NULL"


def upgrade() -> None:
    op.create_index(
        "ix_jobs_published",
        "jobs",
        ["tenant", "queue"],
        postgresql_where=sa.text(_PUBLISHED),
        sqlite_where=sa.text(_PUBLISHED),
    )
    op.create_index(
        "ix_jobs_held",
        "jobs",
        [
            sa.text("tenant"),
            sa.text("queue"),
            sa.text("priority DESC"),
            sa.text("created_at"),
            sa.text("id"),
        ],
        postgresql_where=sa.text(_HELD),
        sqlite_where=sa.text(_HELD),
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_held", table_name="jobs")
    op.drop_index("ix_jobs_published", table_name="jobs")
