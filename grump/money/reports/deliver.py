"""Scheduled cost reports: build, render, store in the ledger, write to disk, post.

A report is stored once per tenant, period kind and period start (a unique
key), so beat may run ``send_cost_reports`` as often as it likes: a report
already made is not made again. Files go to ``GRUMP_REPORTS_DIR`` as
``<tenant>/<period>-<start date>.{html,md,csv}``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
from sqlalchemy import select, update

from grump.ledger.db import session_scope, utcnow
from grump.ledger.money_models import StoredReport
from grump.money import costs
from grump.money.reports.build import build_report
from grump.money.reports.csv import render_csv
from grump.money.reports.formatting import format_money
from grump.money.reports.html import render_html
from grump.money.reports.markdown import render_markdown
from grump.money.reports.model import CostReport, ReportPeriod
from grump.money.reports.periods import last_complete
from grump.money.webhook import post_webhook
from grump.runtime import Runtime

log = logging.getLogger(__name__)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Rendered:
    """A cost report with its HTML, Markdown and CSV renderings."""

    report: CostReport
    html: str
    markdown: str
    csv: str


def render_all(report: CostReport) -> Rendered:
    """The report rendered in every format grump stores and writes."""
    return Rendered(report, render_html(report), render_markdown(report), render_csv(report))


def parse_periods(text: str) -> list[ReportPeriod]:
    """``"day,week"`` -> [DAY, WEEK]; an unknown name is an error, not silently skipped."""
    return [ReportPeriod(part.strip()) for part in text.split(",") if part.strip()]


def write_files(directory: Path, rendered: Rendered) -> Path:
    """Write the three renderings; returns the HTML file's path."""
    report = rendered.report
    folder = directory / (_UNSAFE.sub("_", report.tenant) or "_")
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{report.period.value}-{report.start:%Y-%m-%d}"
    for suffix, text in (("md", rendered.markdown), ("csv", rendered.csv)):
        (folder / f"{stem}.{suffix}").write_text(text, encoding="utf-8")
    html = folder / f"{stem}.html"
    html.write_text(rendered.html, encoding="utf-8")
    return html


def summary_text(report: CostReport) -> str:
    """The few lines a webhook posts for a report: period, spend, requests, savings and advice."""
    totals = report.totals
    return (
        f"grump {report.period.value} cost report for {report.tenant},"
        f" {report.start:%Y-%m-%d}: {format_money(totals.cost)} over {totals.requests} requests,"
        f" {format_money(totals.savings)} of LLM and embedding spend avoided"
        f" ({format_money(totals.direct_savings)} against going direct)."
        + "".join(f"\n- {line}" for line in report.recommendations)
    )


def _already_stored(runtime: Runtime, tenant: str, period: ReportPeriod, start: datetime) -> bool:
    with session_scope(runtime.sessions, runtime.settings.retry_after_seconds) as session:
        query = select(StoredReport.id).where(
            StoredReport.tenant == tenant,
            StoredReport.period == period.value,
            StoredReport.period_start == start,
        )
        return session.execute(query).first() is not None


def _store(runtime: Runtime, rendered: Rendered, now: datetime) -> int:
    report = rendered.report
    with session_scope(runtime.sessions, runtime.settings.retry_after_seconds) as session:
        row = StoredReport(
            tenant=report.tenant,
            period=report.period.value,
            period_start=report.start,
            period_end=report.end,
            created_at=now,
            html=rendered.html,
            markdown=rendered.markdown,
            csv=rendered.csv,
        )
        session.add(row)
        session.flush()
        return row.id


def _deliver(runtime: Runtime, report_id: int, report: CostReport) -> None:
    url = runtime.settings.budget_webhook_url
    if not url:
        return
    try:
        post_webhook(url, summary_text(report))
    except httpx.HTTPError as exc:
        log.warning("cost report webhook failed: %s", exc)
        return
    with session_scope(runtime.sessions, runtime.settings.retry_after_seconds) as session:
        session.execute(
            update(StoredReport).where(StoredReport.id == report_id).values(delivered_at=utcnow())
        )


def make_report(runtime: Runtime, tenant: str, period: ReportPeriod, at: datetime) -> Rendered:
    """Build and render a tenant's report for the period of kind ``period`` holding ``at``."""
    now = utcnow()
    with session_scope(runtime.sessions, runtime.settings.retry_after_seconds) as session:
        return render_all(build_report(session, tenant, period, at, now))


def send_cost_reports(runtime: Runtime, now: datetime | None = None) -> list[Path]:
    """Make every scheduled report whose period is over and not yet made; their HTML paths."""
    now = now or utcnow()
    written: list[Path] = []
    for period in parse_periods(runtime.settings.report_periods):
        start, end = last_complete(period, now)
        with session_scope(runtime.sessions, runtime.settings.retry_after_seconds) as session:
            tenants = costs.tenants_with_costs(session, start, end)
        for tenant in tenants:
            if _already_stored(runtime, tenant, period, start):
                continue
            rendered = make_report(runtime, tenant, period, start)
            report_id = _store(runtime, rendered, now)
            written.append(write_files(runtime.settings.effective_reports_dir, rendered))
            _deliver(runtime, report_id, rendered.report)
    return written


def write_report(runtime: Runtime, tenant: str, period: ReportPeriod, at: datetime) -> Path:
    """Render one report on demand into ``GRUMP_REPORTS_DIR``; returns the HTML file's path."""
    rendered = make_report(runtime, tenant, period, at)
    return write_files(runtime.settings.effective_reports_dir, rendered)
