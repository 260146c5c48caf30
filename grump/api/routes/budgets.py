"""/v1/budgets: set, read and remove budgets (admin keys only).

An admin key is an operator's key: it manages the budgets of any tenant.
A budget covers a whole tenant, one user of it (``?user=``) or one key of it
(``?key=<key id>``: the key and the keys rotated from it). A tenant reads its own
budgets' state at ``GET /v1/costs/budget-status``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from grump.api.deps import AdminDep, RuntimeDep
from grump.api.responses import ERROR_RESPONSES
from grump.errors import ValidationFailed
from grump.ledger.db import session_scope, utcnow
from grump.ledger.keys import MAX_ID, lineage_of
from grump.ledger.money_units import MAX_USD
from grump.money import budgets
from grump.money.amounts import quantize_money
from grump.money.budget_math import Period
from grump.money.reports import BudgetHealth, BudgetStatusRow

router = APIRouter(prefix="/v1/budgets", tags=["budgets"], responses=ERROR_RESPONSES)

UserQuery = Annotated[str | None, Query(max_length=200, description="a user's own budget")]
KeyQuery = Annotated[int | None, Query(ge=1, le=MAX_ID, description="a key's own budget (its id)")]


class BudgetIn(BaseModel):
    """A budget to set: its limit per period and, optionally, the share of it that alerts."""

    limit: Decimal = Field(ge=0, le=MAX_USD, description="USD per period")
    alert_threshold: Decimal | None = Field(
        None, gt=0, le=1, description="share of the limit that alerts; default from settings"
    )


class BudgetView(BaseModel):
    """A budget and where it stands in its current period."""

    tenant: str
    user: str | None
    key: int | None = None
    period: Period
    limit: Decimal
    alert_threshold: Decimal
    spent: Decimal
    reserved: Decimal
    available: Decimal
    period_start: datetime
    resets_at: datetime
    health: BudgetHealth

    @classmethod
    def of(cls, status: budgets.BudgetStatus) -> BudgetView:
        """The view of a budget's status, with money quantised and its health worked out."""
        row = BudgetStatusRow(
            scope=status.scope,
            period=status.period.value,
            limit=status.limit,
            spent=status.spent,
            resets_at=status.end,
            alert_threshold=status.alert_threshold,
        )
        return cls(
            tenant=status.tenant,
            user=status.user,
            key=status.key,
            period=status.period,
            limit=quantize_money(status.limit),
            alert_threshold=quantize_money(status.alert_threshold),
            spent=quantize_money(status.spent),
            reserved=quantize_money(status.reserved),
            available=quantize_money(status.state.available),
            period_start=status.start,
            resets_at=status.end,
            health=row.health,
        )


class BudgetList(BaseModel):
    """A tenant's budgets, its users' and keys' included."""

    items: list[BudgetView]


def tenant_budgets(runtime: RuntimeDep, tenant: str) -> BudgetList:
    """Every budget of ``tenant`` (its own and its users'), as each stands now."""
    now = utcnow()
    with session_scope(runtime.sessions, runtime.settings.retry_after_seconds) as session:
        statuses = budgets.tenant_statuses(session, tenant, now)
    return BudgetList(items=[BudgetView.of(s) for s in statuses])


def _lineage(session: Session, tenant: str, user: str | None, key: int | None) -> int | None:
    """The lineage a ``key`` selector names (NotFound: not a key of ``tenant``)."""
    if key is None:
        return None
    if user is not None:
        raise ValidationFailed("key", "a budget is a user's or a key's, not both")
    return lineage_of(session, tenant, key)


@router.put("/{tenant}/{period}", response_model=BudgetView)
def put_budget(
    tenant: str,
    period: Period,
    body: BudgetIn,
    _: AdminDep,
    runtime: RuntimeDep,
    user: UserQuery = None,
    key: KeyQuery = None,
) -> BudgetView:
    """Create or change a tenant's budget for a period (a user's with ``user``, a key's with ``key``), applying at once to the current period."""
    now = utcnow()
    threshold = body.alert_threshold or runtime.settings.budget_alert_threshold
    with session_scope(runtime.sessions, runtime.settings.retry_after_seconds) as session:
        lineage = _lineage(session, tenant, user, key)
        budget = budgets.set_budget(
            session, tenant, user, period, body.limit, threshold, now, lineage
        )
        (status,) = budgets.statuses_for(session, [budget], now)
    return BudgetView.of(status)


@router.get("/{tenant}", response_model=BudgetList)
def get_budgets(tenant: str, _: AdminDep, runtime: RuntimeDep) -> BudgetList:
    """List a tenant's budgets and its users', with what each has spent and holds this period."""
    return tenant_budgets(runtime, tenant)


@router.delete("/{tenant}/{period}", status_code=204)
def delete_budget(
    tenant: str,
    period: Period,
    _: AdminDep,
    runtime: RuntimeDep,
    user: UserQuery = None,
    key: KeyQuery = None,
) -> Response:
    """Remove a tenant's budget for a period, a user's with ``user`` or a key's with ``key``, with its history."""
    with session_scope(runtime.sessions, runtime.settings.retry_after_seconds) as session:
        budgets.delete_budget(session, tenant, user, period, _lineage(session, tenant, user, key))
    return Response(status_code=204)
