"""store job results uncompressed on Postgres

An embed job's result holds thousands of floats as JSON text, which pglz
compresses poorly but at a real CPU cost on every write; EXTERNAL keeps large
values out of line without compressing them. SQLite has no such setting.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 23:59:00
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE jobs ALTER COLUMN result SET STORAGE EXTERNAL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE jobs ALTER COLUMN result SET STORAGE EXTENDED")
