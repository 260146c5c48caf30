"""/v1/budgets: set, read and remove budgets (admin keys only).

An admin key is an operator's key: it manages the budgets of any tenant.
A tenant reads its own budgets' state at ``GET /v1/costs/budget-status``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from grump.api.deps import Principal, RuntimeDep, require_admin
from grump.api.responses import ERROR_RESPONSES
from grump.ledger.db import session_scope, utcnow
from grump.ledger.money_units import MAX_USD
from grump.money import budgets
from grump.money.amounts import quantize_money
from grump.money.budget_math import Period
from grump.money.reports import BudgetHealth, BudgetStatusRow

router = APIRouter(prefix="/v1/budgets", tags=["budgets"], responses=ERROR_RESPONSES)

AdminDep = Annotated[Principal, Depends(require_admin)]
UserQuery = Annotated[str | None, Query(max_length=200, description="a user's own budget")]


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
    """A tenant's budgets, its users' included."""

    items: list[BudgetView]


def tenant_budgets(runtime: RuntimeDep, tenant: str) -> BudgetList:
    """Every budget of ``tenant`` (its own and its users'), as each stands now."""
    now = utcnow()
    with session_scope(runtime.sessions, runtime.settings.retry_after_seconds) as session:
        statuses = budgets.tenant_statuses(session, tenant, now)
    return BudgetList(items=[BudgetView.of(s) for s in statuses])


@router.put("/{tenant}/{period}", response_model=BudgetView)
def put_budget(
    tenant: str,
    period: Period,
    body: BudgetIn,
    _: AdminDep,
    runtime: RuntimeDep,
    user: UserQuery = None,
) -> BudgetView:
    """Create or change a tenant's budget for a period (a user's with ``user``), applying at once to the current period."""
    now = utcnow()
    threshold = body.alert_threshold or runtime.settings.budget_alert_threshold
    with session_scope(runtime.sessions, runtime.settings.retry_after_seconds) as session:
        budget = budgets.set_budget(session, tenant, user, period, body.limit, threshold, now)
        (status,) = budgets.statuses_for(session, [budget], now)
    return BudgetView.of(status)


@router.get("/{tenant}", response_model=BudgetList)
def get_budgets(tenant: str, _: AdminDep, runtime: RuntimeDep) -> BudgetList:
    """List a tenant's budgets and its users', with what each has spent and holds this period."""
    return tenant_budgets(runtime, tenant)


@router.delete("/{tenant}/{period}", status_code=204)
def delete_budget(
    tenant: str, period: Period, _: AdminDep, runtime: RuntimeDep, user: UserQuery = None
) -> Response:
    """Remove a tenant's budget for a period, or a user's with ``user``, with its history."""
    with session_scope(runtime.sessions, runtime.settings.retry_after_seconds) as session:
        budgets.delete_budget(session, tenant, user, period)
    return Response(status_code=204)
