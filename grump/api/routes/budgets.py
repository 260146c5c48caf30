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
from grump.money import budgets as budget_rows
from grump.money.budget_math import Period
from grump.money.reports import BudgetHealth, BudgetStatusRow
from grump.routing.pricing import quantize_money as q

router = APIRouter(prefix="/v1/budgets", tags=["budgets"], responses=ERROR_RESPONSES)

AdminDep = Annotated[Principal, Depends(require_admin)]
UserQuery = Annotated[str | None, Query(max_length=200, description="a user's own budget")]


class BudgetIn(BaseModel):
    limit: Decimal = Field(ge=0, le=MAX_USD, description="USD per period")
    alert_threshold: Decimal | None = Field(
        None, gt=0, le=1, description="share of the limit that alerts; default from settings"
    )


class BudgetView(BaseModel):
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
    def of(cls, status: budget_rows.BudgetStatus) -> BudgetView:
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
            limit=q(status.limit),
            alert_threshold=q(status.alert_threshold),
            spent=q(status.spent),
            reserved=q(status.reserved),
            available=q(status.state.available),
            period_start=status.start,
            resets_at=status.end,
            health=row.health,
        )


class BudgetList(BaseModel):
    items: list[BudgetView]


def tenant_budgets(runtime: RuntimeDep, tenant: str) -> BudgetList:
    now = utcnow()
    with session_scope(runtime.sessions, runtime.settings.retry_after_seconds) as session:
        statuses = budget_rows.tenant_statuses(session, tenant, now)
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
    now = utcnow()
    threshold = body.alert_threshold or runtime.settings.budget_alert_threshold
    with session_scope(runtime.sessions, runtime.settings.retry_after_seconds) as session:
        budget = budget_rows.set_budget(session, tenant, user, period, body.limit, threshold, now)
        (status,) = budget_rows.statuses_for(session, [budget], now)
    return BudgetView.of(status)


@router.get("/{tenant}", response_model=BudgetList)
def get_budgets(tenant: str, _: AdminDep, runtime: RuntimeDep) -> BudgetList:
    return tenant_budgets(runtime, tenant)


@router.delete("/{tenant}/{period}", status_code=204)
def delete_budget(
    tenant: str, period: Period, _: AdminDep, runtime: RuntimeDep, user: UserQuery = None
) -> Response:
    with session_scope(runtime.sessions, runtime.settings.retry_after_seconds) as session:
        budget_rows.delete_budget(session, tenant, user, period)
    return Response(status_code=204)
