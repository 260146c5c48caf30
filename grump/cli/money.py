"""``grump budgets set|show`` and ``grump report``: straight on the ledger (GRUMP_DATABASE_URL).

grump budgets set --tenant T --period daily|monthly --limit USD [--user U | --key ID] [--alert 0.8]
grump budgets show --tenant T
grump report --tenant T --period day|week|month --format html|md|csv [--out FILE]
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from grump.settings import Settings


def _money(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not an amount: {text!r}") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"not an amount: {text!r}")
    return value


def _runtime() -> Any:
    from grump.runtime import Runtime

    return Runtime(Settings())


def set_budget(args: argparse.Namespace) -> int:
    """``grump budgets set``: create or change a budget on the ledger, then show the tenant's budgets."""
    from grump.ledger.db import session_scope, utcnow
    from grump.ledger.keys import lineage_of
    from grump.money import budgets
    from grump.money.budget_math import Period

    runtime = _runtime()
    threshold = args.alert if args.alert is not None else runtime.settings.budget_alert_threshold
    try:
        with session_scope(runtime.sessions) as session:
            lineage = None if args.key is None else lineage_of(session, args.tenant, args.key)
            budgets.set_budget(
                session,
                args.tenant,
                args.user,
                Period(args.period),
                args.limit,
                threshold,
                utcnow(),
                lineage,
            )
    finally:
        runtime.dispose()
    return show_budgets(args)


def show_budgets(args: argparse.Namespace) -> int:
    """``grump budgets show``: print each of a tenant's budgets as it stands in the current period."""
    from grump.ledger.db import session_scope, utcnow
    from grump.money import budgets

    runtime = _runtime()
    try:
        with session_scope(runtime.sessions) as session:
            statuses = budgets.tenant_statuses(session, args.tenant, utcnow())
    finally:
        runtime.dispose()
    if not statuses:
        print(f"{args.tenant}: no budget (unlimited)")
    for s in statuses:
        print(
            f"{s.scope:<20} {s.period.value:<8} limit {s.limit:.2f}  spent {s.spent:.4f}"
            f"  reserved {s.reserved:.4f}  left {s.state.available:.4f}"
            f"  alert at {s.alert_threshold:.0%}  resets {s.end:%Y-%m-%d %H:%M} UTC"
        )
    return 0


def report(args: argparse.Namespace) -> int:
    """``grump report``: render a tenant's cost report for the period holding ``--at``, to stdout or ``--out``."""
    from grump.money.reports.deliver import make_report
    from grump.money.reports.model import ReportPeriod

    runtime = _runtime()
    at = args.at or datetime.now(UTC)
    try:
        rendered = make_report(runtime, args.tenant, ReportPeriod(args.period), at)
    finally:
        runtime.dispose()
    text = {"html": rendered.html, "md": rendered.markdown, "csv": rendered.csv}[args.format]
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
        print(args.out)
    return 0


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def add_commands(sub: Any) -> None:
    """Add ``grump budgets set``, ``grump budgets show`` and ``grump report`` to the parser."""
    budgets = sub.add_parser("budgets", help="set and show budgets (needs the ledger)")
    budgets_sub = budgets.add_subparsers(dest="budgets_command", required=True)
    put = budgets_sub.add_parser("set", help="create or change a budget")
    put.add_argument("--tenant", required=True)
    put.add_argument("--period", required=True, choices=["daily", "monthly"])
    put.add_argument("--limit", required=True, type=_money, help="USD per period")
    whom = put.add_mutually_exclusive_group()
    whom.add_argument("--user", help="a budget for one user of the tenant")
    whom.add_argument("--key", type=int, help="a budget for one key of the tenant (its id)")
    put.add_argument("--alert", type=_money, help="alert share of the limit (default 0.80)")
    put.set_defaults(handler=set_budget)
    show = budgets_sub.add_parser("show", help="a tenant's budgets in the current period")
    show.add_argument("--tenant", required=True)
    show.set_defaults(handler=show_budgets)

    rep = sub.add_parser("report", help="render a cost report from the ledger")
    rep.add_argument("--tenant", required=True)
    rep.add_argument("--period", default="day", choices=["day", "week", "month"])
    rep.add_argument("--format", default="md", choices=["html", "md", "csv"])
    rep.add_argument("--out", type=Path, help="write here instead of stdout")
    rep.add_argument("--at", type=_instant, help="a time in the period (default: now, UTC)")
    rep.set_defaults(handler=report)
