"""two baselines and every saving's cause: direct-with-breakpoints baseline, coalescing, work kept off the LLM

Cost events and rollups gain ``direct_baseline_cost`` (the requests sent direct
to the premium model with the clients' own ``cache_control``; events before this
revision knew no breakpoints, so it is their premium, uncached baseline),
``coalescing_savings`` and ``kept_off_llm``. A parse job's premium price, which
earlier events counted in ``baseline_cost`` and as ``routing_savings``, moves to
``kept_off_llm``: both baselines count LLM and embedding work only. Every backfill
copies a column, so it is exact on SQLite's text money as on Postgres.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from grump.ledger.money_units import MoneyUnits
from grump.ledger.types import Money

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_TABLES = (("cost_events", Money), ("cost_rollups", MoneyUnits))
_COLUMNS = ("direct_baseline_cost", "coalescing_savings", "kept_off_llm")


def upgrade() -> None:
    for table, money in _TABLES:
        with op.batch_alter_table(table) as batch:
            for name in _COLUMNS:
                batch.add_column(sa.Column(name, money(), nullable=False, server_default="0"))
        op.execute(f"UPDATE {table} SET direct_baseline_cost = baseline_cost WHERE kind <> 'parse'")
        # A parse event's routing saving was its premium price less the parser's cost.
        op.execute(
            f"UPDATE {table} SET kept_off_llm = routing_savings, routing_savings = 0,"
            " baseline_cost = cost, direct_baseline_cost = cost WHERE kind = 'parse'"
        )


def downgrade() -> None:
    for table, _ in _TABLES:
        op.execute(
            f"UPDATE {table} SET routing_savings = kept_off_llm, baseline_cost = kept_off_llm"
            " WHERE kind = 'parse'"  # the packaged parser is free: its cost is 0
        )
        with op.batch_alter_table(table) as batch:
            for name in reversed(_COLUMNS):
                batch.drop_column(name)
