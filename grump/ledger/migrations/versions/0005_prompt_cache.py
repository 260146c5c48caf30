"""record Anthropic's prompt-cache tokens per job, cost event and rollup, and what they saved

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from grump.ledger.money_units import MoneyUnits
from grump.ledger.types import Money

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TOKENS = ("tokens_cache_read", "tokens_cache_write")


def _tokens(batch: object, kind: type[sa.types.TypeEngine[int]]) -> None:
    for name in _TOKENS:
        batch.add_column(sa.Column(name, kind(), nullable=False, server_default="0"))  # type: ignore[attr-defined]


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        _tokens(batch, sa.Integer)
    with op.batch_alter_table("cost_events") as batch:
        _tokens(batch, sa.Integer)
        batch.add_column(
            sa.Column("provider_cache_savings", Money(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("cost_rollups") as batch:
        _tokens(batch, sa.BigInteger)
        batch.add_column(
            sa.Column("provider_cache_savings", MoneyUnits(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    for table in ("cost_rollups", "cost_events", "jobs"):
        with op.batch_alter_table(table) as batch:
            if table != "jobs":
                batch.drop_column("provider_cache_savings")
            for name in _TOKENS:
                batch.drop_column(name)
