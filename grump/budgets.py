"""Budgets as a service: what a job reserves, the budget left, and alerts.

Reservation, settlement and release are ledger writes (``grump.money.budgets``)
made inside the submit and finish transactions; this module decides how much a
job reserves and tells people when a budget runs low: a log line, the
``grump_budget_alerts`` metric and, when ``GRUMP_BUDGET_WEBHOOK_URL`` is set, a
Slack-compatible POST (``{"text": ...}``). Each threshold of a budget alerts
once per period: the ``budget_alerts`` row is unique per (period, threshold).
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

import httpx

from grump import metrics
from grump.jobs.models import AnyJobRequest, CompleteJobRequest, EmbedJobRequest
from grump.ledger.db import session_scope, utcnow
from grump.money import alerts as alert_rows
from grump.money import budgets as budget_rows
from grump.providers.base import estimate_tokens
from grump.routing.policy import estimate_max_cost
from grump.routing.pricing import PriceCatalogue
from grump.runtime import Runtime

log = logging.getLogger(__name__)

EXCEEDED = Decimal(1)  # the alert sent when a budget is used up, besides its own threshold


def estimate_reservation(catalogue: PriceCatalogue, request: AnyJobRequest, model: str) -> Decimal:
    """The most a job can cost: what submit holds on its budgets.

    A completion may use all of ``max_tokens``; an embedding costs its input
    tokens; the intent parser costs nothing, so parse jobs never touch a budget.
    """
    if isinstance(request, CompleteJobRequest):
        return estimate_max_cost(catalogue.price(model), request.input)
    if isinstance(request, EmbedJobRequest):
        tokens = sum(estimate_tokens(text) for text in request.input.texts)
        return catalogue.price(model).cost(tokens)
    return Decimal(0)


def budget_left(runtime: Runtime, tenant: str, user: str | None) -> Decimal | None:
    """What the tightest budget of a job can still hold (None: no budget applies)."""
    with session_scope(runtime.sessions, runtime.settings.retry_after_seconds) as session:
        return budget_rows.budget_left(session, tenant, user, utcnow())


def post_webhook(url: str, text: str, timeout: float = 5.0) -> None:
    """POST ``{"text": text}`` (Slack's incoming-webhook shape); raises on failure."""
    response = httpx.post(url, json={"text": text}, timeout=timeout)
    response.raise_for_status()


def alert_text(alert: alert_rows.PendingAlert) -> str:
    share = (alert.spent / alert.limit * 100).quantize(Decimal(1)) if alert.limit else Decimal(100)
    what = "is used up" if alert.threshold >= EXCEEDED else f"passed {alert.threshold:.0%}"
    return (
        f"grump: the {alert.period} budget of {alert.tenant}"
        f"{'' if alert.user is None else f' (user {alert.user})'} {what}:"
        f" {alert.spent:.2f} of {alert.limit:.2f} USD ({share}%),"
        f" resets {alert.resets_at:%Y-%m-%d %H:%M} UTC"
    )


def _deliver(webhook_url: str | None, pending: list[alert_rows.PendingAlert]) -> list[int]:
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
        new = alert_rows.record_crossings(session, now, (EXCEEDED,))
        pending = alert_rows.pending(session, now)
    for alert in new:
        metrics.BUDGET_ALERTS.labels(alert.period).inc()
        log.warning("%s", alert_text(alert))
    delivered = _deliver(settings.budget_webhook_url, pending)
    if delivered:
        with session_scope(runtime.sessions, settings.retry_after_seconds) as session:
            alert_rows.mark_delivered(session, delivered, utcnow())
    return len(new)
