"""API keys get a lifecycle (name, expiry, last use, rotation's grace, rate limits); budgets per key

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_STAMPS = ("expires_at", "last_used_at", "grace_until")


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("name", sa.String(100), nullable=False, server_default=""))
        for name in _STAMPS:
            batch.add_column(sa.Column(name, sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("lineage_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("rps_limit", sa.Float(), nullable=True))
        batch.add_column(sa.Column("tpm_limit", sa.Integer(), nullable=True))
    op.execute("UPDATE api_keys SET lineage_id = id")
    with op.batch_alter_table("budgets") as batch:
        batch.add_column(sa.Column("key_id", sa.Integer(), nullable=False, server_default="0"))
        batch.drop_constraint("uq_budgets_scope", type_="unique")
        batch.create_unique_constraint(
            "uq_budgets_scope", ["tenant", "user_id", "key_id", "period"]
        )


def downgrade() -> None:
    op.execute(
        "DELETE FROM budget_holds WHERE budget_id IN (SELECT id FROM budgets WHERE key_id <> 0)"
    )
    op.execute(
        "DELETE FROM budget_alerts WHERE period_id IN (SELECT p.id FROM budget_periods p"
        " JOIN budgets b ON b.id = p.budget_id WHERE b.key_id <> 0)"
    )
    op.execute(
        "DELETE FROM budget_periods WHERE budget_id IN (SELECT id FROM budgets WHERE key_id <> 0)"
    )
    op.execute("DELETE FROM budgets WHERE key_id <> 0")
    with op.batch_alter_table("budgets") as batch:
        batch.drop_constraint("uq_budgets_scope", type_="unique")
        batch.create_unique_constraint("uq_budgets_scope", ["tenant", "user_id", "period"])
        batch.drop_column("key_id")
    with op.batch_alter_table("api_keys") as batch:
        for name in ("tpm_limit", "rps_limit", "lineage_id", *_STAMPS, "name"):
            batch.drop_column(name)
