"""Budget alerts: one per budget period and threshold, ever, then told to people.

``record_crossings`` inserts a row for each threshold a current period has
reached; the unique (period, threshold) key makes a second insert a no-op, so
concurrent or repeated checks alert once. ``notified_at`` stays empty until the
alert was delivered, so a failed webhook is retried within the period.

``check_budgets`` (beat) records the crossings and tells people: a log line,
the ``grump_budget_alerts`` metric and, when ``GRUMP_BUDGET_WEBHOOK_URL`` is
set, a Slack-compatible POST (``{"text": ...}``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from grump import metrics
from grump.ledger.db import dialect_insert, session_scope, utcnow
from grump.ledger.models import ApiKey
from grump.ledger.money_models import NO_KEY, Budget, BudgetAlert, BudgetPeriod
from grump.money.budget_math import alert_line
from grump.money.webhook import post_webhook
from grump.runtime import Runtime

log = logging.getLogger(__name__)

EXCEEDED = Decimal(1)  # the alert sent when a budget is used up, besides its own threshold


@dataclass(frozen=True)
class PendingAlert:
    """An alert to tell people about, with the figures of its crossing."""

    id: int
    tenant: str
    user: str | None
    period: str
    threshold: Decimal
    spent: Decimal
    limit: Decimal
    resets_at: datetime
    key_id: int | None = None  # a key's budget: the key lineage's id
    key_name: str = ""  # and its name, the calling service's ("" when it has none)


def _current_periods(session: Session, now: datetime) -> list[tuple[BudgetPeriod, int]]:
    """The running periods, each with its budget's key lineage (``NO_KEY`` when not a key's)."""
    query = (
        select(BudgetPeriod, Budget.key_id)
        .join(Budget, Budget.id == BudgetPeriod.budget_id)
        .where(BudgetPeriod.period_start <= now, BudgetPeriod.period_end > now)
    )
    return [(row, int(key)) for row, key in session.execute(query.order_by(BudgetPeriod.id))]


def key_names(session: Session, lineages: Iterable[int]) -> dict[int, str]:
    """The name of each key lineage: its newest key's (a rotation keeps the name)."""
    wanted = {lineage for lineage in lineages if lineage != NO_KEY}
    if not wanted:
        return {}
    query = (
        select(ApiKey.id, ApiKey.lineage_id, ApiKey.name)
        .where(or_(ApiKey.id.in_(wanted), ApiKey.lineage_id.in_(wanted)))
        .order_by(ApiKey.id)
    )
    names: dict[int, str] = {}
    for key_id, lineage, name in session.execute(query):
        names[lineage or key_id] = name  # the newest, read last, wins
    return names


def _insert_alert(session: Session, row: BudgetPeriod, threshold: Decimal, now: datetime) -> bool:
    statement = (
        dialect_insert(session, BudgetAlert)
        .values(
            period_id=row.id,
            threshold=threshold,
            spent=row.spent,
            limit_usd=row.limit_usd,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["period_id", "threshold"])
        .returning(BudgetAlert.id)
    )
    return session.execute(statement).first() is not None


def record_crossings(
    session: Session, now: datetime, extra_thresholds: Sequence[Decimal] = ()
) -> list[PendingAlert]:
    """Alerts for thresholds reached by settled spending, recorded once; the new ones."""
    new: list[PendingAlert] = []
    periods = _current_periods(session, now)
    names = key_names(session, (key for _, key in periods))
    for row, key in periods:
        for threshold in sorted({row.alert_threshold, *extra_thresholds}):
            if row.spent < alert_line(row.limit_usd, threshold):
                continue
            if _insert_alert(session, row, threshold, now):
                new.append(_pending(0, row, threshold, key, names))
    return new


def _pending(
    alert_id: int, row: BudgetPeriod, threshold: Decimal, key: int, names: dict[int, str]
) -> PendingAlert:
    return PendingAlert(
        id=alert_id,
        tenant=row.tenant,
        user=row.user_id or None,
        period=row.period,
        threshold=threshold,
        spent=row.spent,
        limit=row.limit_usd,
        resets_at=row.period_end,
        key_id=None if key == NO_KEY else key,
        key_name=names.get(key, ""),
    )


def pending(session: Session, now: datetime) -> list[PendingAlert]:
    """Alerts not yet delivered whose period is still running."""
    query = (
        select(BudgetAlert, BudgetPeriod, Budget.key_id)
        .join(BudgetPeriod, BudgetPeriod.id == BudgetAlert.period_id)
        .join(Budget, Budget.id == BudgetPeriod.budget_id)
        .where(BudgetAlert.notified_at.is_(None), BudgetPeriod.period_end > now)
        .order_by(BudgetAlert.id)
    )
    rows = session.execute(query).all()
    names = key_names(session, (int(key) for _, _, key in rows))
    found: list[PendingAlert] = []
    for alert, row, key in rows:
        # The figures as they were when the threshold was crossed, not as they are now.
        item = _pending(alert.id, row, alert.threshold, int(key), names)
        found.append(replace(item, spent=alert.spent, limit=alert.limit_usd))
    return found


def mark_delivered(session: Session, alert_ids: Sequence[int], at: datetime) -> None:
    """Record that these alerts were delivered, so they are not sent again."""
    session.execute(update(BudgetAlert).where(BudgetAlert.id.in_(alert_ids)).values(notified_at=at))


def alert_text(alert: PendingAlert) -> str:
    """The one line an alert says, in the log and in the webhook's message."""
    share = (alert.spent / alert.limit * 100).quantize(Decimal(1)) if alert.limit else Decimal(100)
    what = "is used up" if alert.threshold >= EXCEEDED else f"passed {alert.threshold:.0%}"
    return (
        f"grump: the {alert.period} budget of {alert.tenant}{_whose(alert)} {what}:"
        f" {alert.spent:.2f} of {alert.limit:.2f} USD ({share}%),"
        f" resets {alert.resets_at:%Y-%m-%d %H:%M} UTC"
    )


def _whose(alert: PendingAlert) -> str:
    """Whose budget within the tenant: a key's by name and id, or a user's; '' when the tenant's."""
    if alert.key_id is not None:
        named = f"key {alert.key_name!r}, id {alert.key_id}" if alert.key_name else None
        return f" ({named or f'key id {alert.key_id}'})"
    return "" if alert.user is None else f" (user {alert.user})"


def _deliver(webhook_url: str | None, pending: list[PendingAlert]) -> list[int]:
    """Send each pending alert; the ids delivered (all of them when no webhook is set)."""
    delivered: list[int] = []
    for alert in pending:
        if webhook_url:
            try:
                post_webhook(webhook_url, alert_text(alert))
            except httpx.HTTPError as exc:
                # Left undelivered: the next check_budgets run tries again this period.
                log.warning("budget webhook failed: %s", exc)
                continue
        delivered.append(alert.id)
    return delivered


def check_budgets(runtime: Runtime, now: datetime | None = None) -> int:
    """Record newly crossed thresholds and send every undelivered alert; returns how many new."""
    now = now or utcnow()
    settings = runtime.settings
    with session_scope(runtime.sessions, settings.retry_after_seconds) as session:
        new = record_crossings(session, now, (EXCEEDED,))
        undelivered = pending(session, now)
    for alert in new:
        metrics.BUDGET_ALERTS.labels(alert.period).inc()
        log.warning("%s", alert_text(alert))
    delivered = _deliver(settings.budget_webhook_url, undelivered)
    if delivered:
        with session_scope(runtime.sessions, settings.retry_after_seconds) as session:
            mark_delivered(session, delivered, utcnow())
    return len(new)
